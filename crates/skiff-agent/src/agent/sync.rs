//! Pod sync: applies [`plan`]'s actions for each pod bound to this node and
//! reports the pod's status through the status subresource.
//!
//! One task per pod at a time (a pod whose sync is in flight is skipped until the
//! next round). State lives in memory: after an agent restart, containers left
//! by the previous agent are removed and pods are started afresh (adoption of
//! running containers is not wired in yet).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};

use super::plan::{self, initialized, plan, pod_phase, Action, Observed, ObservedPod};
use crate::image::{self, missing_image, ImageStore, RootFilesystem};
use crate::network::{
    hosts_file, pod_hostname, pod_resolv_conf, uses_pod_network, NodeNetwork, SandboxNetwork,
};
use crate::runtime::{
    self, BindMount, ContainerConfig, ContainerState, CreateContainer, Namespace, Namespaces,
    Resources, RootFs, Runtime,
};

const CLUSTER_DOMAIN: &str = "cluster.local";
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// One run of a container.
#[derive(Debug, Clone)]
struct Instance {
    id: String,
    restarts: u32,
    image_id: String,
    started_at: DateTime<Utc>,
    state: ContainerState,
}

/// What the agent knows of one pod.
#[derive(Debug, Default)]
struct PodRecord {
    sandbox_ready: bool,
    sandbox: Option<SandboxNetwork>,
    instances: HashMap<String, Instance>,
    /// Containers that could not be created: (reason, message).
    waiting: HashMap<String, (String, String)>,
    start_time: Option<String>,
    last_status: Option<Value>,
    gone: bool,
}

/// Makes pods real on this node.
pub struct Syncer {
    pub client: Client,
    pub node_name: String,
    pub node_ip: IpAddr,
    pub runtime: Runtime,
    pub images: ImageStore,
    pub network: Arc<NodeNetwork>,
    /// `<data-dir>/agent/pods`: per-pod hosts and resolv.conf.
    pub pods_dir: PathBuf,
    /// Container logs, `<ns>_<name>_<uid>/<container>/<restart>.log` below it.
    pub logs_dir: PathBuf,
    records: Mutex<HashMap<String, Arc<tokio::sync::Mutex<PodRecord>>>>,
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Syncer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        node_name: String,
        node_ip: IpAddr,
        runtime: Runtime,
        images: ImageStore,
        network: Arc<NodeNetwork>,
        pods_dir: PathBuf,
        logs_dir: PathBuf,
    ) -> Self {
        Syncer {
            client,
            node_name,
            node_ip,
            runtime,
            images,
            network,
            pods_dir,
            logs_dir,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// One round: a sync task for each pod, and a clean-up for pods that vanished.
    pub fn sync_all(self: &Arc<Self>, pods: Vec<Arc<Pod>>) {
        let mut records = self.records.lock().expect("records lock");
        let live: std::collections::HashSet<String> = pods.iter().filter_map(|p| p.uid()).collect();
        for pod in pods {
            let Some(uid) = pod.uid() else { continue };
            let record = records.entry(uid).or_default().clone();
            let this = self.clone();
            tokio::spawn(async move {
                let Ok(mut record) = record.try_lock() else {
                    return;
                };
                if record.gone {
                    return;
                }
                this.sync_pod(&pod, &mut record).await;
            });
        }
        let vanished: Vec<String> = records
            .keys()
            .filter(|uid| !live.contains(*uid))
            .cloned()
            .collect();
        for uid in vanished {
            let record = records.get(&uid).cloned().expect("listed");
            let this = self.clone();
            tokio::spawn(async move {
                let Ok(mut record) = record.try_lock() else {
                    return;
                };
                this.stop_containers(&uid, &mut record, 0).await;
                this.teardown(&uid, &mut record).await;
                this.records.lock().expect("records lock").remove(&uid);
            });
        }
    }

    async fn observe(&self, pod: &Pod, record: &mut PodRecord) -> ObservedPod {
        let spec = pod.spec.clone().unwrap_or_default();
        let names = |containers: &[Container]| -> Vec<String> {
            containers.iter().map(|c| c.name.clone()).collect()
        };
        let init_names = names(spec.init_containers.as_deref().unwrap_or_default());
        let app_names = names(&spec.containers);
        let observe_one = async |name: &str, record: &mut PodRecord| -> Observed {
            let Some(instance) = record.instances.get_mut(name) else {
                return Observed::Absent;
            };
            if let Ok(info) = self.runtime.state(&instance.id).await {
                instance.state = info.state;
            }
            match instance.state {
                ContainerState::Created | ContainerState::Running => Observed::Running,
                ContainerState::Exited(status) => Observed::Exited {
                    code: status.code.unwrap_or(-1),
                    finished_at: status.finished_at,
                    restarts: instance.restarts,
                },
            }
        };
        let mut init = Vec::new();
        for name in &init_names {
            init.push(observe_one(name, record).await);
        }
        let mut containers = Vec::new();
        for name in &app_names {
            containers.push(observe_one(name, record).await);
        }
        ObservedPod {
            sandbox: record.sandbox_ready,
            init,
            containers,
        }
    }

    async fn sync_pod(&self, pod: &Pod, record: &mut PodRecord) {
        let uid = pod.uid().unwrap_or_default();
        if record.start_time.is_none() {
            record.start_time = Some(now_rfc3339());
        }
        let observed = self.observe(pod, record).await;
        for action in plan(pod, &observed, Utc::now()) {
            let result = match &action {
                Action::CreateSandbox => self.create_sandbox(pod, &uid, record).await,
                Action::StartContainer { name, init } => {
                    self.start_container(pod, &uid, name, *init, record).await
                }
                Action::StopContainers => {
                    self.stop_containers(&uid, record, grace_seconds(pod)).await;
                    Ok(())
                }
                Action::TeardownSandbox => {
                    self.teardown(&uid, record).await;
                    Ok(())
                }
                Action::DeletePod => self.delete_pod(pod, &uid, record).await,
            };
            if let Err(error) = result {
                tracing::warn!(pod = %pod.name_any(), ?action, %error, "pod sync step failed");
                break;
            }
        }
        if record.gone || plan::is_deleting(pod) {
            return;
        }
        let observed = self.observe(pod, record).await;
        let status = self.status(pod, &observed, record);
        if record.last_status.as_ref() != Some(&status) {
            let api: Api<Pod> = Api::namespaced(
                self.client.clone(),
                pod.namespace().as_deref().unwrap_or("default"),
            );
            let patch = json!({ "status": status });
            match api
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => record.last_status = Some(status),
                Err(error) => {
                    tracing::warn!(pod = %pod.name_any(), %error, "pod status update failed")
                }
            }
        }
    }

    async fn create_sandbox(
        &self,
        pod: &Pod,
        uid: &str,
        record: &mut PodRecord,
    ) -> Result<(), String> {
        let dir = self.pods_dir.join(uid);
        std::fs::create_dir_all(&dir).map_err(|e| format!("pod directory: {e}"))?;
        let hostname = pod_hostname(pod, CLUSTER_DOMAIN).map_err(|e| e.to_string())?;
        let aliases = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_aliases.clone())
            .unwrap_or_default();
        let (hosts, sandbox) = if uses_pod_network(pod) {
            let network = self.network.clone();
            let owned_uid = uid.to_string();
            let sandbox = tokio::task::spawn_blocking(move || network.create_sandbox(&owned_uid))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let hosts = hosts_file(
                IpAddr::V4(sandbox.ip),
                &hostname.hostname,
                hostname.fqdn.as_deref(),
                &aliases,
            );
            (hosts, Some(sandbox))
        } else {
            let node_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            (
                crate::network::host_network_hosts_file(&node_hosts, &aliases),
                None,
            )
        };
        // The cluster DNS Service is not known to the agent yet: ClusterFirst falls
        // back to the node's resolver settings, as the kubelet does without --cluster-dns.
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = pod_resolv_conf(pod, None, CLUSTER_DOMAIN, &host_resolv).render();
        std::fs::write(dir.join("hosts"), hosts).map_err(|e| format!("hosts file: {e}"))?;
        std::fs::write(dir.join("resolv.conf"), resolv).map_err(|e| format!("resolv.conf: {e}"))?;
        record.sandbox = sandbox;
        record.sandbox_ready = true;
        Ok(())
    }

    async fn start_container(
        &self,
        pod: &Pod,
        uid: &str,
        name: &str,
        init: bool,
        record: &mut PodRecord,
    ) -> Result<(), String> {
        let spec = pod.spec.clone().unwrap_or_default();
        let list = if init {
            spec.init_containers.clone().unwrap_or_default()
        } else {
            spec.containers.clone()
        };
        let container = list
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("no container {name}"))?;
        let restarts = match record.instances.remove(name) {
            Some(old) => {
                if let Err(error) = self.runtime.delete(&old.id).await {
                    tracing::debug!(container = %old.id, %error, "removing the previous instance");
                }
                old.restarts + 1
            }
            None => 0,
        };
        let reference = container.image.as_deref().unwrap_or_default();
        let resolved = match self.images.resolve(reference) {
            Ok(resolved) => resolved,
            Err(error) => {
                record
                    .waiting
                    .insert(name.into(), ("InvalidImageName".into(), error.to_string()));
                return Ok(());
            }
        };
        let Some(image) = resolved else {
            let backing_off = record.waiting.contains_key(name);
            let missing = missing_image(container, &self.node_name, backing_off);
            record
                .waiting
                .insert(name.into(), (missing.reason.into(), missing.message));
            return Ok(());
        };
        let config_error = |error: image::ImageError| -> (String, String) {
            (error.container_reason().into(), error.to_string())
        };
        let process = self
            .images
            .user_database(&image)
            .and_then(|accounts| {
                let env = container
                    .env
                    .iter()
                    .flatten()
                    .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
                    .collect();
                image::process_for(
                    container,
                    spec.security_context.as_ref(),
                    &image.config,
                    env,
                    &accounts,
                )
            })
            .map_err(config_error);
        let process = match process {
            Ok(process) => process,
            Err(waiting) => {
                record.waiting.insert(name.into(), waiting);
                return Ok(());
            }
        };
        let quantity =
            |map: Option<
                &std::collections::BTreeMap<
                    String,
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity,
                >,
            >,
             key: &str| { map.and_then(|m| m.get(key)).map(|q| q.0.clone()) };
        let requirements = container.resources.clone().unwrap_or_default();
        let resources = Resources::from_quantities(
            quantity(requirements.limits.as_ref(), "memory").as_deref(),
            quantity(requirements.requests.as_ref(), "cpu").as_deref(),
            quantity(requirements.limits.as_ref(), "cpu").as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let hostname = pod_hostname(pod, CLUSTER_DOMAIN).map_err(|e| e.to_string())?;
        let dir = self.pods_dir.join(uid);
        let (network, uts, hostname) = match &record.sandbox {
            Some(sandbox) => (
                Namespace::Join(sandbox.netns_path.clone()),
                Namespace::New,
                Some(hostname.kernel_hostname),
            ),
            None => (Namespace::Host, Namespace::Host, None),
        };
        let config = ContainerConfig {
            process: runtime::ProcessSpec {
                args: process.args,
                env: process
                    .env
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                cwd: process.cwd,
                uid: process.uid,
                gid: process.gid,
                additional_gids: process.supplementary_gids,
            },
            root: match image.rootfs {
                RootFilesystem::Unpacked => RootFs::Image(self.images.rootfs_path(&image)),
                RootFilesystem::HostFilesystem => RootFs::HostReadOnly,
            },
            hostname,
            namespaces: Namespaces {
                network,
                uts,
                ipc: Namespace::New,
                pid: Namespace::New,
            },
            mounts: vec![
                BindMount {
                    source: dir.join("hosts"),
                    destination: "/etc/hosts".into(),
                    read_only: false,
                },
                BindMount {
                    source: dir.join("resolv.conf"),
                    destination: "/etc/resolv.conf".into(),
                    read_only: false,
                },
            ],
            resources,
            no_new_privileges: container
                .security_context
                .as_ref()
                .and_then(|s| s.allow_privilege_escalation)
                == Some(false),
            oom_score_adj: None,
            cgroups_path: String::new(),
        };
        let id = format!("{uid}-{name}-{restarts}");
        let log_path = self
            .logs_dir
            .join(format!(
                "{}_{}_{uid}",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ))
            .join(name)
            .join(format!("{restarts}.log"));
        let request = CreateContainer {
            id: id.clone(),
            pod_uid: uid.into(),
            log_path,
            config,
        };
        // Kept even if creation fails, so the next attempt counts as a restart.
        let mut instance = Instance {
            id: id.clone(),
            restarts,
            image_id: image.id.clone(),
            started_at: Utc::now(),
            state: ContainerState::Created,
        };
        let result = async {
            self.runtime.create(&request).await?;
            self.runtime.start(&id).await
        }
        .await;
        match result {
            Ok(()) => {
                record.waiting.remove(name);
                instance.state = ContainerState::Running;
                record.instances.insert(name.into(), instance);
                Ok(())
            }
            Err(error) => {
                let _ = self.runtime.delete(&id).await;
                record.waiting.insert(
                    name.into(),
                    ("CreateContainerError".into(), error.to_string()),
                );
                Err(error.to_string())
            }
        }
    }

    async fn stop_containers(&self, uid: &str, record: &mut PodRecord, grace_seconds: i64) {
        let grace = Duration::from_secs(grace_seconds.max(0) as u64);
        let stops = record.instances.values().map(|instance| {
            let id = instance.id.clone();
            async move {
                if let Err(error) = self.runtime.stop(&id, grace).await {
                    tracing::debug!(container = %id, %error, "stopping");
                }
                if let Err(error) = self.runtime.delete(&id).await {
                    tracing::warn!(container = %id, %error, "removing a container");
                }
            }
        });
        futures::future::join_all(stops).await;
        record.instances.clear();
        if let Err(error) = runtime::remove_pod_cgroups(uid) {
            tracing::warn!(pod = %uid, %error, "removing the pod's cgroups");
        }
    }

    async fn teardown(&self, uid: &str, record: &mut PodRecord) {
        if record.sandbox.take().is_some() {
            let network = self.network.clone();
            let owned_uid = uid.to_string();
            match tokio::task::spawn_blocking(move || network.teardown_sandbox(&owned_uid)).await {
                Ok(Err(error)) => tracing::warn!(pod = %uid, %error, "tearing down the sandbox"),
                Err(error) => tracing::warn!(pod = %uid, %error, "tearing down the sandbox"),
                Ok(Ok(())) => {}
            }
        }
        record.sandbox_ready = false;
        let _ = std::fs::remove_dir_all(self.pods_dir.join(uid));
    }

    async fn delete_pod(&self, pod: &Pod, uid: &str, record: &mut PodRecord) -> Result<(), String> {
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            pod.namespace().as_deref().unwrap_or("default"),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.into()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(error) => return Err(error.to_string()),
        }
        record.gone = true;
        Ok(())
    }

    /// The pod's status as the agent sees it.
    fn status(&self, pod: &Pod, observed: &ObservedPod, record: &PodRecord) -> Value {
        let spec = pod.spec.clone().unwrap_or_default();
        let previous: Vec<Value> = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                c.iter()
                    .filter_map(|c| serde_json::to_value(c).ok())
                    .collect()
            })
            .unwrap_or_default();
        let now = now_rfc3339();
        let condition = |kind: &str, ok: bool| {
            let status = if ok { "True" } else { "False" };
            let since = previous
                .iter()
                .find(|c| c["type"] == kind && c["status"] == status)
                .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
                .unwrap_or_else(|| now.clone());
            json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since})
        };
        let init_done = initialized(observed);
        let all_running = !observed.containers.is_empty()
            && observed.containers.iter().all(|o| *o == Observed::Running);
        let policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());
        let statuses = |containers: &[Container], seen: &[Observed], init: bool| -> Vec<Value> {
            containers
                .iter()
                .zip(seen)
                .map(|(container, observed)| {
                    self.container_status(container, *observed, record, init, init_done, &policy)
                })
                .collect()
        };
        let mut status = json!({
            "phase": pod_phase(pod, observed),
            "hostIP": self.node_ip.to_string(),
            "hostIPs": [{"ip": self.node_ip.to_string()}],
            "startTime": record.start_time,
            "conditions": [
                condition("PodScheduled", true),
                condition("Initialized", init_done),
                condition("ContainersReady", all_running),
                condition("Ready", all_running),
            ],
            "containerStatuses": statuses(&spec.containers, &observed.containers, false),
        });
        if let Some(init) = spec.init_containers.as_deref().filter(|i| !i.is_empty()) {
            status["initContainerStatuses"] = json!(statuses(init, &observed.init, true));
        }
        let pod_ip = match &record.sandbox {
            Some(sandbox) => Some(sandbox.ip.to_string()),
            None if record.sandbox_ready => Some(self.node_ip.to_string()),
            None => None,
        };
        if let Some(ip) = pod_ip {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
        }
        status
    }

    fn container_status(
        &self,
        container: &Container,
        observed: Observed,
        record: &PodRecord,
        init: bool,
        init_done: bool,
        policy: &str,
    ) -> Value {
        let instance = record.instances.get(&container.name);
        let running = observed == Observed::Running;
        let mut status = json!({
            "name": container.name,
            "image": container.image.clone().unwrap_or_default(),
            "imageID": instance.map(|i| i.image_id.clone()).unwrap_or_default(),
            "restartCount": instance.map(|i| i.restarts).unwrap_or(0),
            "ready": running && !init,
            "started": running,
        });
        if let Some(instance) = instance {
            status["containerID"] = json!(format!("crun://{}", instance.id));
        }
        let waiting = |reason: &str, message: Option<&str>| {
            let mut w = json!({ "reason": reason });
            if let Some(message) = message {
                w["message"] = json!(message);
            }
            json!({ "waiting": w })
        };
        status["state"] = match (record.waiting.get(&container.name), instance) {
            (Some((reason, message)), _) => waiting(reason, Some(message)),
            (None, None) if !init && !init_done => waiting("PodInitializing", None),
            (None, None) => waiting("ContainerCreating", None),
            (None, Some(instance)) => match instance.state {
                ContainerState::Created | ContainerState::Running => {
                    json!({"running": {"startedAt": rfc3339(instance.started_at)}})
                }
                ContainerState::Exited(exit) => {
                    let code = exit.code.unwrap_or(-1);
                    let reason = if exit.oom_killed {
                        "OOMKilled"
                    } else if code == 0 {
                        "Completed"
                    } else if exit.code.is_none() {
                        "ContainerStatusUnknown"
                    } else {
                        "Error"
                    };
                    let terminated = json!({"terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": rfc3339(instance.started_at),
                        "finishedAt": rfc3339(exit.finished_at),
                        "containerID": format!("crun://{}", instance.id),
                    }});
                    let restarts = match (init, policy) {
                        (_, "Never") => false,
                        (true, _) | (false, "OnFailure") => code != 0,
                        _ => true,
                    };
                    if restarts {
                        status["lastState"] = terminated;
                        waiting(
                            "CrashLoopBackOff",
                            Some(&format!(
                                "back-off {}s restarting failed container={}",
                                plan::restart_backoff(instance.restarts).as_secs(),
                                container.name
                            )),
                        )
                    } else {
                        terminated
                    }
                }
            },
        };
        status
    }
}

/// The grace period for stopping a pod's containers.
fn grace_seconds(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(DEFAULT_GRACE_SECONDS)
}
