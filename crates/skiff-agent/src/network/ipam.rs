//! Host-local IPAM: pod IPv4 addresses from the node's podCIDR, leased by pod uid and persisted to one JSON file.
//!
//! The model is the CNI `host-local` IPAM plugin
//! (containernetworking/plugins `plugins/ipam/host-local/backend/allocator/allocator.go`):
//! the gateway (first address), the network and the broadcast address are never
//! handed out, and the search for a free address starts just after the last one
//! reserved, so a released address is not reused at once (stale conntrack entries
//! and ARP caches for it get time to expire).
//!
//! The decisions live in [`IpamState`] (pure, unit-tested); [`IpamStore`] only
//! loads, locks and writes the file around them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// Errors of the IPAM.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The pod CIDR could not be parsed or is too small to hold a pod.
    #[error("failed to parse pod CIDR: {0}")]
    InvalidCidr(String),
    /// Every allocatable address of the range is leased.
    #[error("failed to allocate a pod IP: {0}")]
    Exhausted(String),
    /// The lease file belongs to another range than the node's podCIDR.
    #[error("failed to load IP leases: {0}")]
    RangeMismatch(String),
    /// The lease file could not be read, locked or written.
    #[error("failed to access the IP lease file: {0}")]
    Io(String),
    /// The lease file is not valid JSON of the expected shape.
    #[error("failed to decode the IP lease file: {0}")]
    Corrupt(String),
}

/// An IPv4 network in CIDR notation, normalised to its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// The longest prefix that still leaves one address for a pod
    /// (network, gateway, pod, broadcast).
    pub const LONGEST_USABLE_PREFIX: u8 = 30;

    /// Builds the network containing `addr`; host bits are cleared.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Result<Self, IpamError> {
        if prefix_len > Self::LONGEST_USABLE_PREFIX {
            return Err(IpamError::InvalidCidr(format!(
                "{addr}/{prefix_len} leaves no address for pods (prefix must be at most /{})",
                Self::LONGEST_USABLE_PREFIX
            )));
        }
        let network = Ipv4Addr::from(u32::from(addr) & Self::mask(prefix_len));
        Ok(Self {
            network,
            prefix_len,
        })
    }

    fn mask(prefix_len: u8) -> u32 {
        if prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix_len))
        }
    }

    /// The network address (all host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The broadcast address (all host bits one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !Self::mask(self.prefix_len))
    }

    /// The gateway: the first address after the network address, as the CNI
    /// bridge plugin picks it when none is configured.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Whether `ip` lies inside the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix_len) == u32::from(self.network)
    }

    /// Whether `ip` may be leased to a pod: inside the network and neither the
    /// network, gateway nor broadcast address.
    pub fn is_allocatable(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network && ip != self.gateway() && ip != self.broadcast()
    }

    /// The first and last address that may be leased.
    fn allocatable_bounds(&self) -> (u32, u32) {
        (u32::from(self.network) + 2, u32::from(self.broadcast()) - 1)
    }

    /// How many pod addresses the network holds.
    pub fn capacity(&self) -> u32 {
        let (first, last) = self.allocatable_bounds();
        last - first + 1
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = IpamError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || IpamError::InvalidCidr(format!("{text:?} is not an IPv4 CIDR"));
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix_len: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix_len > 32 {
            return Err(invalid());
        }
        Self::new(addr, prefix_len)
    }
}

/// The leases of one range, as stored in the lease file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamState {
    /// The range the leases were made from (`10.42.0.0/24`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The address reserved most recently; the next search starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reserved: Option<Ipv4Addr>,
    /// Pod uid → leased address.
    #[serde(default)]
    pub leases: BTreeMap<String, Ipv4Addr>,
}

impl IpamState {
    /// Returns the address leased to `pod_uid`, leasing a new one if it has none.
    ///
    /// Idempotent per uid. A lease that no longer fits `range` is replaced.
    pub fn allocate(&mut self, range: &Ipv4Cidr, pod_uid: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(&ip) = self.leases.get(pod_uid) {
            if range.is_allocatable(ip) {
                return Ok(ip);
            }
            self.leases.remove(pod_uid);
        }
        let in_use: BTreeSet<Ipv4Addr> = self.leases.values().copied().collect();
        let (first, last) = range.allocatable_bounds();
        // Start right after the last reservation, as host-local's RangeIter does.
        let start = match self.last_reserved.map(u32::from) {
            Some(last_reserved) if (first..last).contains(&last_reserved) => last_reserved + 1,
            _ => first,
        };
        let capacity = range.capacity();
        let free = (0..capacity)
            .map(|offset| Ipv4Addr::from(first + (start - first + offset) % capacity))
            .find(|candidate| !in_use.contains(candidate))
            .ok_or_else(|| {
                IpamError::Exhausted(format!(
                    "all {capacity} addresses of {range} are leased (no IP left for pod {pod_uid})"
                ))
            })?;
        self.leases.insert(pod_uid.to_string(), free);
        self.last_reserved = Some(free);
        Ok(free)
    }

    /// Drops the lease of `pod_uid`, returning the address it held.
    pub fn release(&mut self, pod_uid: &str) -> Option<Ipv4Addr> {
        self.leases.remove(pod_uid)
    }
}

/// The lease file of one node range, safe to use from several threads and processes.
#[derive(Debug)]
pub struct IpamStore {
    path: PathBuf,
    range: Ipv4Cidr,
    /// `flock` only excludes other open file descriptions; this serialises our own threads.
    in_process: Mutex<()>,
}

impl IpamStore {
    /// Opens (creating the directory if needed) the lease file at `path` for `range`.
    ///
    /// Fails if the file holds leases of a different range.
    pub fn open(path: impl Into<PathBuf>, range: Ipv4Cidr) -> Result<Self, IpamError> {
        let store = Self {
            path: path.into(),
            range,
            in_process: Mutex::new(()),
        };
        if let Some(dir) = store.path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| IpamError::Io(format!("{}: {e}", dir.display())))?;
        }
        store.update(|_| Ok(()))?;
        Ok(store)
    }

    /// The range addresses come from.
    pub fn range(&self) -> Ipv4Cidr {
        self.range
    }

    /// The lease file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leases an address to `pod_uid` (or returns the one it already has).
    pub fn allocate(&self, pod_uid: &str) -> Result<Ipv4Addr, IpamError> {
        let range = self.range;
        self.update(|state| state.allocate(&range, pod_uid))
    }

    /// Releases the lease of `pod_uid`; releasing twice is not an error.
    pub fn release(&self, pod_uid: &str) -> Result<Option<Ipv4Addr>, IpamError> {
        self.update(|state| Ok(state.release(pod_uid)))
    }

    /// All current leases, pod uid → address.
    pub fn leases(&self) -> Result<BTreeMap<String, Ipv4Addr>, IpamError> {
        self.update(|state| Ok(state.leases.clone()))
    }

    /// Runs `change` on the stored state under both locks and writes the result back if it changed.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut IpamState) -> Result<T, IpamError>,
    ) -> Result<T, IpamError> {
        let _thread_guard = self.in_process.lock().unwrap_or_else(|e| e.into_inner());
        let _file_guard = self.lock_file()?;
        let stored = self.read()?;
        let mut state = stored.clone();
        let outcome = change(&mut state)?;
        state.range = Some(self.range.to_string());
        if state != stored {
            self.write(&state)?;
        }
        Ok(outcome)
    }

    fn lock_file(&self) -> Result<Flock<File>, IpamError> {
        let lock_path = self.path.with_extension("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| IpamError::Io(format!("{}: {e}", lock_path.display())))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| IpamError::Io(format!("lock {}: {errno}", lock_path.display())))
    }

    fn read(&self) -> Result<IpamState, IpamError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IpamState::default()),
            Err(e) => return Err(IpamError::Io(format!("{}: {e}", self.path.display()))),
        };
        let state: IpamState = serde_json::from_str(&text)
            .map_err(|e| IpamError::Corrupt(format!("{}: {e}", self.path.display())))?;
        match &state.range {
            Some(stored) if *stored != self.range.to_string() => {
                Err(IpamError::RangeMismatch(format!(
                    "{} holds leases of {stored} but the node's podCIDR is {}; \
                 delete the file once no pod of the old range runs",
                    self.path.display(),
                    self.range
                )))
            }
            _ => Ok(state),
        }
    }

    /// Writes through a temporary file and a rename, so a crash leaves either
    /// the old or the new leases, never half a file.
    fn write(&self, state: &IpamState) -> Result<(), IpamError> {
        let io_error = |e: std::io::Error| IpamError::Io(format!("{}: {e}", self.path.display()));
        let text = serde_json::to_vec_pretty(state)
            .map_err(|e| IpamError::Corrupt(format!("encode: {e}")))?;
        let temporary = self.path.with_extension("tmp");
        let mut file = File::create(&temporary).map_err(io_error)?;
        file.write_all(&text).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        fs::rename(&temporary, &self.path).map_err(io_error)?;
        if let Some(dir) = self.path.parent() {
            // Make the rename itself durable.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn should_normalise_host_bits_and_name_the_special_addresses() {
        let range = cidr("10.42.3.77/24");
        assert_eq!(range.to_string(), "10.42.3.0/24");
        assert_eq!(range.gateway(), ip("10.42.3.1"));
        assert_eq!(range.broadcast(), ip("10.42.3.255"));
        assert_eq!(range.capacity(), 253);
        assert!(range.contains(ip("10.42.3.200")));
        assert!(!range.contains(ip("10.42.4.1")));
    }

    #[test]
    fn should_reject_ranges_without_room_for_a_pod_and_garbage() {
        assert!(matches!(
            "10.42.0.0/31".parse::<Ipv4Cidr>(),
            Err(IpamError::InvalidCidr(_))
        ));
        assert!(matches!(
            "10.42.0.0".parse::<Ipv4Cidr>(),
            Err(IpamError::InvalidCidr(_))
        ));
        assert!(matches!(
            "10.42.0.0/33".parse::<Ipv4Cidr>(),
            Err(IpamError::InvalidCidr(_))
        ));
        assert!(matches!(
            "ten/8".parse::<Ipv4Cidr>(),
            Err(IpamError::InvalidCidr(_))
        ));
        assert_eq!(cidr("10.42.0.0/30").capacity(), 1);
    }

    #[test]
    fn should_start_after_the_gateway_and_be_idempotent_per_uid() {
        let range = cidr("10.42.0.0/24");
        let mut state = IpamState::default();
        assert_eq!(state.allocate(&range, "a").unwrap(), ip("10.42.0.2"));
        assert_eq!(state.allocate(&range, "b").unwrap(), ip("10.42.0.3"));
        assert_eq!(state.allocate(&range, "a").unwrap(), ip("10.42.0.2"));
        assert_eq!(state.leases.len(), 2);
    }

    #[test]
    fn should_not_reuse_a_released_address_until_the_range_wraps() {
        let range = cidr("10.42.0.0/29"); // .2 ..= .6 allocatable
        let mut state = IpamState::default();
        for uid in ["a", "b", "c"] {
            state.allocate(&range, uid).unwrap();
        }
        assert_eq!(state.release("a"), Some(ip("10.42.0.2")));
        assert_eq!(state.allocate(&range, "d").unwrap(), ip("10.42.0.5"));
        assert_eq!(state.allocate(&range, "e").unwrap(), ip("10.42.0.6"));
        assert_eq!(state.allocate(&range, "f").unwrap(), ip("10.42.0.2"));
    }

    #[test]
    fn should_never_hand_out_network_gateway_or_broadcast_and_refuse_when_exhausted() {
        let range = cidr("10.42.0.0/28");
        let mut state = IpamState::default();
        let handed_out: Vec<Ipv4Addr> = (0..range.capacity())
            .map(|n| state.allocate(&range, &format!("pod-{n}")).unwrap())
            .collect();
        assert_eq!(handed_out.len(), 13);
        assert!(handed_out.iter().all(|&a| range.is_allocatable(a)));
        let unique: BTreeSet<_> = handed_out.iter().collect();
        assert_eq!(unique.len(), handed_out.len());
        let error = state.allocate(&range, "one-too-many").unwrap_err();
        assert!(matches!(error, IpamError::Exhausted(_)));
        assert!(error.to_string().contains("10.42.0.0/28"), "{error}");
        state.release("pod-4");
        assert!(range.is_allocatable(state.allocate(&range, "one-too-many").unwrap()));
    }

    #[test]
    fn should_replace_a_lease_that_is_outside_the_range() {
        let range = cidr("10.42.0.0/24");
        let mut state = IpamState::default();
        state.leases.insert("a".into(), ip("10.42.7.9"));
        state.last_reserved = Some(ip("10.99.0.1"));
        assert_eq!(state.allocate(&range, "a").unwrap(), ip("10.42.0.2"));
    }

    /// One step of a random workload against a small range.
    #[derive(Debug, Clone)]
    enum Step {
        Allocate(u8),
        Release(u8),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..20).prop_map(Step::Allocate),
            (0u8..20).prop_map(Step::Release)
        ]
    }

    proptest::proptest! {
        #[test]
        fn should_keep_leases_unique_allocatable_and_stable_under_any_workload(
            prefix_len in 27u8..=30,
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let range = Ipv4Cidr::new(Ipv4Addr::new(10, 42, 0, 0), prefix_len).unwrap();
            let mut state = IpamState::default();
            for step in steps {
                match step {
                    Step::Allocate(pod) => {
                        let uid = format!("pod-{pod}");
                        let before = state.leases.get(&uid).copied();
                        match state.allocate(&range, &uid) {
                            Ok(ip) => {
                                proptest::prop_assert!(range.is_allocatable(ip));
                                if let Some(before) = before {
                                    proptest::prop_assert_eq!(before, ip, "same uid, same IP");
                                }
                            }
                            Err(IpamError::Exhausted(_)) => {
                                proptest::prop_assert!(before.is_none());
                                proptest::prop_assert_eq!(state.leases.len() as u32, range.capacity());
                            }
                            Err(other) => proptest::prop_assert!(false, "unexpected {}", other),
                        }
                    }
                    Step::Release(pod) => {
                        state.release(&format!("pod-{pod}"));
                    }
                }
                let unique: BTreeSet<_> = state.leases.values().collect();
                proptest::prop_assert_eq!(unique.len(), state.leases.len());
            }
        }
    }

    #[test]
    fn should_persist_leases_across_reopen_and_release_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipam/leases.json");
        let range = cidr("10.42.0.0/24");
        let store = IpamStore::open(&path, range).unwrap();
        let a = store.allocate("a").unwrap();
        let b = store.allocate("b").unwrap();
        drop(store);

        let store = IpamStore::open(&path, range).unwrap();
        assert_eq!(store.allocate("a").unwrap(), a);
        assert_eq!(store.release("b").unwrap(), Some(b));
        assert_eq!(store.release("b").unwrap(), None);
        assert_eq!(store.leases().unwrap().len(), 1);
        assert_ne!(
            store.allocate("c").unwrap(),
            b,
            "the freed address is not reused at once"
        );
    }

    #[test]
    fn should_refuse_a_lease_file_of_another_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.json");
        IpamStore::open(&path, cidr("10.42.0.0/24"))
            .unwrap()
            .allocate("a")
            .unwrap();
        let error = IpamStore::open(&path, cidr("10.42.1.0/24")).unwrap_err();
        assert!(matches!(error, IpamError::RangeMismatch(_)), "{error}");
    }

    #[test]
    fn should_report_a_corrupt_lease_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases.json");
        fs::write(&path, "{not json").unwrap();
        let error = IpamStore::open(&path, cidr("10.42.0.0/24")).unwrap_err();
        assert!(matches!(error, IpamError::Corrupt(_)), "{error}");
    }
}
