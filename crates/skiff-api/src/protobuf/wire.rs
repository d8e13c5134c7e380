//! The protobuf wire format, read defensively: every length is checked against the
//! remaining input, so truncated or hostile bodies become errors, never panics.
//!
//! Error cases and texts follow the gogo-generated `Unmarshal` code Kubernetes uses.

use super::ProtobufError;

pub const WIRE_VARINT: u8 = 0;
pub const WIRE_FIXED64: u8 = 1;
pub const WIRE_LENGTH_DELIMITED: u8 = 2;
pub const WIRE_START_GROUP: u8 = 3;
pub const WIRE_END_GROUP: u8 = 4;
pub const WIRE_FIXED32: u8 = 5;

/// A cursor over one message's bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, position: 0 }
    }

    pub fn is_at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// A base-128 varint. Like Go's decoder, bits past the 64th are dropped and an
    /// 11th byte is an overflow.
    pub fn read_varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            if shift >= 64 {
                return Err(ProtobufError::IntegerOverflow);
            }
            let byte = *self
                .bytes
                .get(self.position)
                .ok_or(ProtobufError::UnexpectedEof)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    pub fn read_fixed64(&mut self) -> Result<u64, ProtobufError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn read_fixed32(&mut self) -> Result<u32, ProtobufError> {
        let bytes = self.take(4)?;
        let mut array = [0u8; 4];
        array.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(array))
    }

    /// A length-prefixed byte string (strings, bytes, embedded messages, packed arrays).
    pub fn read_length_delimited(&mut self) -> Result<&'a [u8], ProtobufError> {
        let length = self.read_varint()?;
        // Go reads the length into an int: a value with the top bit set is negative.
        if length > i64::MAX as u64 {
            return Err(ProtobufError::NegativeLength);
        }
        let length = usize::try_from(length).map_err(|_| ProtobufError::UnexpectedEof)?;
        self.take(length)
    }

    /// The next field key, split into (field number, wire type), rejecting what Go
    /// rejects before looking at the field: a stray end-group and tag 0 (or negative
    /// once truncated to Go's int32).
    pub fn read_key(&mut self, message: &str) -> Result<(u32, u8), ProtobufError> {
        let key = self.read_varint()?;
        let wire_type = (key & 0x7) as u8;
        let field_number = (key >> 3) as i32;
        if wire_type == WIRE_END_GROUP {
            return Err(ProtobufError::EndGroupForNonGroup {
                message: message.to_string(),
            });
        }
        if field_number <= 0 {
            return Err(ProtobufError::IllegalTag {
                message: message.to_string(),
                tag: field_number,
                wire_type,
            });
        }
        Ok((field_number as u32, wire_type))
    }

    /// Skips the value of a field nobody asked for (unknown fields are ignored, as
    /// upstream does). A group is skipped up to its matching end-group, by counting
    /// depth rather than recursing.
    pub fn skip(&mut self, wire_type: u8) -> Result<(), ProtobufError> {
        let mut group_depth = 0usize;
        let mut wire_type = wire_type;
        loop {
            match wire_type {
                WIRE_VARINT => {
                    self.read_varint()?;
                }
                WIRE_FIXED64 => {
                    self.take(8)?;
                }
                WIRE_LENGTH_DELIMITED => {
                    self.read_length_delimited()?;
                }
                WIRE_START_GROUP => group_depth += 1,
                WIRE_END_GROUP => {
                    group_depth = group_depth
                        .checked_sub(1)
                        .ok_or(ProtobufError::UnexpectedEndOfGroup)?;
                }
                WIRE_FIXED32 => {
                    self.read_fixed32()?;
                }
                other => return Err(ProtobufError::IllegalWireType(other)),
            }
            if group_depth == 0 {
                return Ok(());
            }
            wire_type = (self.read_varint()? & 0x7) as u8;
        }
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .position
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(ProtobufError::UnexpectedEof)?;
        let taken = &self.bytes[self.position..end];
        self.position = end;
        Ok(taken)
    }
}
