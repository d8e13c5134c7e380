//! Container resources as cgroup settings, with kubelet's conversions
//! (`pkg/kubelet/cm/helpers_linux.go`: `MilliCPUToShares`, `MilliCPUToQuota`).

/// Errors from reading a container's resource quantities.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    /// A quantity was not of Kubernetes' form (`128Mi`, `500m`, `1.5`, `2e3`).
    #[error("failed to parse the quantity {0:?}")]
    Quantity(String),
}

/// The CFS period kubelet uses, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;
/// kubelet's floor on shares (`MinShares`), also what BestEffort containers get.
pub const MIN_SHARES: u64 = 2;
/// kubelet's ceiling on shares (`MaxShares`).
pub const MAX_SHARES: u64 = 262_144;
/// kubelet's floor on a quota (`MinQuotaPeriod`), in microseconds.
pub const MIN_QUOTA_US: i64 = 1_000;

/// A container's requests and limits in the units cgroups use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub memory_limit_bytes: Option<u64>,
    pub cpu_request_millis: Option<u64>,
    pub cpu_limit_millis: Option<u64>,
}

/// The CPU controller settings kubelet derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSettings {
    pub shares: u64,
    /// `None`: no CFS quota (no CPU limit).
    pub quota: Option<i64>,
    pub period: u64,
}

impl Resources {
    /// From the quantities of `resources.limits.memory`, `requests.cpu` and
    /// `limits.cpu`. Memory rounds up to a whole byte and CPU up to a whole
    /// millicore, as `Quantity.Value()` and `MilliValue()` do.
    pub fn from_quantities(
        memory_limit: Option<&str>,
        cpu_request: Option<&str>,
        cpu_limit: Option<&str>,
    ) -> Result<Resources, ResourcesError> {
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        use skiff_api::quantity::{milli_value, value};
        type Scale = fn(&Quantity) -> Result<i64, skiff_api::quantity::Error>;
        let scaled = |text: Option<&str>, scale: Scale| -> Result<Option<u64>, ResourcesError> {
            text.map(|t| {
                let refused = || ResourcesError::Quantity(t.into());
                let scaled = scale(&Quantity(t.to_string())).map_err(|_| refused())?;
                u64::try_from(scaled).map_err(|_| refused())
            })
            .transpose()
        };
        Ok(Resources {
            memory_limit_bytes: scaled(memory_limit, value)?,
            cpu_request_millis: scaled(cpu_request, milli_value)?,
            cpu_limit_millis: scaled(cpu_limit, milli_value)?,
        })
    }

    /// Shares from the request (the API server defaults it to the limit when only a
    /// limit is set); quota from the limit: `quota = milliCPU × period / 1000`.
    pub fn cpu_settings(&self) -> CpuSettings {
        let shares = match self.cpu_request_millis.or(self.cpu_limit_millis) {
            None | Some(0) => MIN_SHARES,
            Some(millis) => (millis * 1024 / 1000).clamp(MIN_SHARES, MAX_SHARES),
        };
        let quota = self
            .cpu_limit_millis
            .filter(|millis| *millis > 0)
            .map(|millis| {
                let quota = i64::try_from(millis * CPU_PERIOD_US / 1000).unwrap_or(i64::MAX);
                quota.max(MIN_QUOTA_US)
            });
        CpuSettings {
            shares,
            quota,
            period: CPU_PERIOD_US,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_convert_memory_quantities_to_bytes() {
        let bytes = |q| {
            Resources::from_quantities(Some(q), None, None)
                .unwrap()
                .memory_limit_bytes
        };
        assert_eq!(bytes("64Mi"), Some(67_108_864));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1.5Gi"), Some(1_610_612_736));
        assert_eq!(bytes("128974848"), Some(128_974_848));
        assert_eq!(bytes("129e6"), Some(129_000_000));
        assert_eq!(bytes("100m"), Some(1), "fractions of a byte round up");
    }

    #[test]
    fn should_compute_shares_and_quota_as_kubelet_does() {
        let resources = Resources::from_quantities(None, Some("250m"), Some("0.5")).unwrap();
        assert_eq!(
            resources.cpu_settings(),
            CpuSettings {
                shares: 256,
                quota: Some(50_000),
                period: 100_000
            }
        );
        let tiny = Resources::from_quantities(None, Some("1m"), Some("1m")).unwrap();
        assert_eq!(tiny.cpu_settings().shares, MIN_SHARES);
        assert_eq!(tiny.cpu_settings().quota, Some(MIN_QUOTA_US));
        let two = Resources::from_quantities(None, None, Some("2")).unwrap();
        assert_eq!(
            two.cpu_settings().shares,
            2048,
            "the request defaults to the limit"
        );
        assert_eq!(two.cpu_settings().quota, Some(200_000));
    }

    #[test]
    fn should_refuse_text_that_is_not_a_quantity() {
        assert!(Resources::from_quantities(Some("lots"), None, None).is_err());
        assert!(Resources::from_quantities(None, Some("1.2.3"), None).is_err());
        assert!(Resources::from_quantities(None, None, Some("5Xi")).is_err());
    }
}
