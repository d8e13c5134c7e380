//! The process a container runs: its image config merged with its container spec, as
//! Kubernetes and containerd do it.
//!
//! The rules, and where they come from:
//! - `$(VAR)` in `command` and `args` expands from the container's env, `$$` escapes
//!   (kubelet `ExpandContainerCommandAndArgs`, third_party/forked/golang/expansion).
//! - `command` replaces Entrypoint and drops Cmd; `args` alone replaces Cmd; neither
//!   gives Entrypoint + Cmd; an Entrypoint of `[""]` means none (containerd
//!   `internal/cri/opts/spec_opts.go` `WithProcessArgs`, from moby `daemon/commit.go`).
//! - env starts from the default PATH, then the image's Env, then the container's,
//!   each replacing by name in place (containerd `oci.WithDefaultPathEnv`, `WithEnv`).
//! - the working directory is the container's, else the image's, else `/`.
//! - the user is the image's `User` unless `runAsUser`/`runAsGroup` say otherwise
//!   (container over pod); names resolve in the image's own /etc/passwd and /etc/group
//!   (containerd `WithUser`, `WithUserID`, `WithAdditionalGIDs`).
//! - `runAsNonRoot` is checked as the kubelet's `verifyRunAsNonRoot` does.

use std::path::Path;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use super::format::ImageConfig;
use super::layer::resolve_in_root;
use super::ImageError;

/// containerd's default PATH, present unless the image or container sets another.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything the runtime needs to start a container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// argv: `args[0]` is the executable (looked up in PATH if not absolute).
    pub args: Vec<String>,
    /// The environment, in order, names unique.
    pub env: Vec<(String, String)>,
    /// The working directory inside the container's root.
    pub cwd: String,
    /// The user id to run as.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Groups from the image's /etc/group membership, `supplementalGroups` and `fsGroup`.
    pub supplementary_gids: Vec<u32>,
}

/// The users and groups of an image's root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDatabase {
    users: Vec<(String, u32, u32)>,
    groups: Vec<(String, u32, Vec<String>)>,
}

impl UserDatabase {
    /// Parses the text of `/etc/passwd` and `/etc/group`; malformed lines are ignored, as
    /// libc does.
    pub fn parse(passwd: &str, group: &str) -> Self {
        let users = passwd
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                Some((
                    fields.first()?.to_string(),
                    fields.get(2)?.parse().ok()?,
                    fields.get(3)?.parse().ok()?,
                ))
            })
            .collect();
        let groups = group
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                let members = fields
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                Some((
                    fields.first()?.to_string(),
                    fields.get(2)?.parse().ok()?,
                    members,
                ))
            })
            .collect();
        UserDatabase { users, groups }
    }

    /// Reads `/etc/passwd` and `/etc/group` of a root filesystem; missing files mean no
    /// names (numeric users still work). Symlinks resolve inside `rootfs`.
    pub fn read_from(rootfs: &Path) -> Result<Self, ImageError> {
        let read = |rel: &str| -> Result<String, ImageError> {
            let path = resolve_in_root(rootfs, Path::new(rel), true)?;
            match std::fs::read(&path) {
                Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                Err(_) => Ok(String::new()),
            }
        };
        Ok(UserDatabase::parse(
            &read("etc/passwd")?,
            &read("etc/group")?,
        ))
    }

    fn user_by_name(&self, name: &str) -> Option<(u32, u32)> {
        self.users.iter().find(|u| u.0 == name).map(|u| (u.1, u.2))
    }

    fn user_by_id(&self, uid: u32) -> Option<(&str, u32)> {
        self.users
            .iter()
            .find(|u| u.1 == uid)
            .map(|u| (u.0.as_str(), u.2))
    }

    fn group_by_name(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    fn groups_of(&self, user: &str) -> impl Iterator<Item = u32> + '_ {
        let user = user.to_string();
        self.groups
            .iter()
            .filter(move |g| g.2.contains(&user))
            .map(|g| g.1)
    }
}

/// Merges a container spec with its image config into the process to run.
///
/// `resolved_env` is the container's env with `valueFrom`, `envFrom` and service links
/// already resolved, in Kubernetes order. `pod_security` is the pod's security context,
/// which the container's overrides field by field. `accounts` comes from
/// [`UserDatabase::read_from`] on the image's root filesystem.
///
/// Errors: [`ImageError::NoCommand`], [`ImageError::UnknownUser`],
/// [`ImageError::RunAsNonRoot`]; [`ImageError::container_reason`] names the waiting reason.
pub fn process_for(
    container: &Container,
    pod_security: Option<&PodSecurityContext>,
    config: &ImageConfig,
    resolved_env: Vec<(String, String)>,
    accounts: &UserDatabase,
) -> Result<ProcessSpec, ImageError> {
    let expand_all = |values: &Option<Vec<String>>| -> Vec<String> {
        values
            .iter()
            .flatten()
            .map(|value| expand(value, &resolved_env))
            .collect()
    };
    let args = merge_args(
        expand_all(&container.command),
        expand_all(&container.args),
        config,
    )?;

    let mut env: Vec<(String, String)> = vec![("PATH".into(), DEFAULT_PATH.into())];
    for entry in config.env.iter().flatten() {
        match entry.split_once('=') {
            Some((name, value)) => set_env(&mut env, name, value),
            // containerd: an image variable without '=' unsets it.
            None => env.retain(|(name, _)| name != entry),
        }
    }
    for (name, value) in &resolved_env {
        set_env(&mut env, name, value);
    }

    let cwd = [
        container.working_dir.as_deref(),
        config.working_dir.as_deref(),
    ]
    .into_iter()
    .flatten()
    .find(|dir| !dir.is_empty())
    .unwrap_or("/")
    .to_string();

    let container_security = container.security_context.as_ref();
    let run_as_user = container_security
        .and_then(|s| s.run_as_user)
        .or(pod_security.and_then(|p| p.run_as_user));
    let run_as_group = container_security
        .and_then(|s| s.run_as_group)
        .or(pod_security.and_then(|p| p.run_as_group));
    let run_as_non_root = container_security
        .and_then(|s| s.run_as_non_root)
        .or(pod_security.and_then(|p| p.run_as_non_root))
        .unwrap_or(false);
    let image_user = config.user.as_deref().unwrap_or_default();
    if run_as_non_root {
        verify_run_as_non_root(&container.name, run_as_user, image_user)?;
    }

    let (uid, mut gid) = match run_as_user {
        Some(uid) => {
            let uid = id_from_i64(uid, "runAsUser")?;
            (uid, accounts.user_by_id(uid).map(|u| u.1).unwrap_or(0))
        }
        None => resolve_image_user(image_user, accounts)?,
    };
    if let Some(group) = run_as_group {
        gid = id_from_i64(group, "runAsGroup")?;
    }

    let mut supplementary_gids: Vec<u32> = Vec::new();
    if let Some((name, _)) = accounts.user_by_id(uid) {
        supplementary_gids.extend(accounts.groups_of(name));
    }
    let pod_groups = pod_security.into_iter().flat_map(|p| {
        p.supplemental_groups
            .iter()
            .flatten()
            .copied()
            .chain(p.fs_group)
    });
    for group in pod_groups {
        supplementary_gids.push(id_from_i64(group, "supplementalGroups")?);
    }
    let mut seen = std::collections::HashSet::new();
    supplementary_gids.retain(|g| seen.insert(*g));

    Ok(ProcessSpec {
        args,
        env,
        cwd,
        uid,
        gid,
        supplementary_gids,
    })
}

/// containerd's `WithProcessArgs`: `command` replaces Entrypoint and drops Cmd, `args`
/// replaces Cmd.
fn merge_args(
    command: Vec<String>,
    args: Vec<String>,
    config: &ImageConfig,
) -> Result<Vec<String>, ImageError> {
    let (command, args) = if command.is_empty() {
        let args = if args.is_empty() {
            config.cmd.clone().unwrap_or_default()
        } else {
            args
        };
        let entrypoint = config.entrypoint.clone().unwrap_or_default();
        // Docker's way to clear an inherited entrypoint is `ENTRYPOINT [""]`.
        let command = if entrypoint.len() == 1 && entrypoint[0].is_empty() {
            Vec::new()
        } else {
            entrypoint
        };
        (command, args)
    } else {
        (command, args)
    };
    let merged: Vec<String> = command.into_iter().chain(args).collect();
    if merged.is_empty() {
        return Err(ImageError::NoCommand);
    }
    Ok(merged)
}

fn set_env(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    match env.iter_mut().find(|(existing, _)| existing == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((name.to_string(), value.to_string())),
    }
}

/// The kubelet's `verifyRunAsNonRoot`: it trusts a numeric image user and refuses a
/// named one it cannot check.
fn verify_run_as_non_root(
    container: &str,
    run_as_user: Option<i64>,
    image_user: &str,
) -> Result<(), ImageError> {
    if let Some(uid) = run_as_user {
        if uid == 0 {
            return Err(ImageError::RunAsNonRoot(format!(
                "container's runAsUser breaks non-root policy (container: {container})"
            )));
        }
        return Ok(());
    }
    let user = image_user.split(':').next().unwrap_or_default();
    match user.parse::<u32>() {
        _ if user.is_empty() => Err(ImageError::RunAsNonRoot(format!(
            "container has runAsNonRoot and image will run as root (container: {container})"
        ))),
        Ok(0) => Err(ImageError::RunAsNonRoot(format!(
            "container has runAsNonRoot and image will run as root (container: {container})"
        ))),
        Ok(_) => Ok(()),
        Err(_) => Err(ImageError::RunAsNonRoot(format!(
            "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (container: {container})"
        ))),
    }
}

/// The image's `User`: `user`, `uid`, `user:group`, `uid:gid`, or empty for root.
fn resolve_image_user(spec: &str, accounts: &UserDatabase) -> Result<(u32, u32), ImageError> {
    if spec.is_empty() {
        return Ok((0, 0));
    }
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let (uid, default_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, accounts.user_by_id(uid).map(|u| u.1).unwrap_or(0)),
        Err(_) => accounts.user_by_name(user).ok_or_else(|| {
            ImageError::UnknownUser(format!("no user {user:?} in the image's /etc/passwd"))
        })?,
    };
    let gid = match group {
        None | Some("") => default_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => accounts.group_by_name(group).ok_or_else(|| {
                ImageError::UnknownUser(format!("no group {group:?} in the image's /etc/group"))
            })?,
        },
    };
    Ok((uid, gid))
}

fn id_from_i64(id: i64, field: &str) -> Result<u32, ImageError> {
    u32::try_from(id)
        .map_err(|_| ImageError::UnknownUser(format!("{field} {id} is not a valid id")))
}

/// Kubernetes' `$(VAR)` expansion: known names are replaced, unknown ones stay as
/// written, `$$` is a literal `$`.
fn expand(input: &str, env: &[(String, String)]) -> String {
    let bytes = input.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.push(b'$');
                i += 2;
            }
            b'(' => match bytes[i + 2..].iter().position(|&b| b == b')') {
                Some(len) => {
                    let name = &input[i + 2..i + 2 + len];
                    match env.iter().rev().find(|(n, _)| n == name) {
                        Some((_, value)) => out.extend_from_slice(value.as_bytes()),
                        None => out.extend_from_slice(format!("$({name})").as_bytes()),
                    }
                    i += len + 3;
                }
                None => {
                    out.extend_from_slice(b"$(");
                    i += 2;
                }
            },
            other => {
                out.push(b'$');
                out.push(other);
                i += 2;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::SecurityContext;

    fn strings(values: &[&str]) -> Option<Vec<String>> {
        Some(values.iter().map(|v| v.to_string()).collect())
    }

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: strings(&["/docker-entrypoint.sh"]),
            cmd: strings(&["nginx", "-g", "daemon off;"]),
            env: strings(&[
                "PATH=/usr/sbin:/usr/bin",
                "NGINX_VERSION=1.25",
                "MODE=image",
            ]),
            working_dir: Some("/srv".into()),
            user: Some("101:101".into()),
            ..Default::default()
        }
    }

    fn container() -> Container {
        Container {
            name: "web".into(),
            ..Default::default()
        }
    }

    fn run(
        container: &Container,
        config: &ImageConfig,
        env: &[(&str, &str)],
    ) -> Result<ProcessSpec, ImageError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        process_for(container, None, config, env, &UserDatabase::default())
    }

    #[test]
    fn should_run_entrypoint_and_cmd_when_the_container_sets_neither() {
        let process = run(&container(), &image(), &[]).unwrap();
        assert_eq!(
            process.args,
            ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
        );
        assert_eq!(process.cwd, "/srv");
        assert_eq!((process.uid, process.gid), (101, 101));
    }

    #[test]
    fn should_replace_entrypoint_and_drop_cmd_when_command_is_set() {
        let c = Container {
            command: strings(&["/bin/sh"]),
            ..container()
        };
        assert_eq!(run(&c, &image(), &[]).unwrap().args, ["/bin/sh"]);
        let c = Container {
            command: strings(&["/bin/sh"]),
            args: strings(&["-c", "echo hi"]),
            ..container()
        };
        assert_eq!(
            run(&c, &image(), &[]).unwrap().args,
            ["/bin/sh", "-c", "echo hi"]
        );
    }

    #[test]
    fn should_replace_only_cmd_when_args_are_set() {
        let c = Container {
            args: strings(&["nginx-debug"]),
            ..container()
        };
        assert_eq!(
            run(&c, &image(), &[]).unwrap().args,
            ["/docker-entrypoint.sh", "nginx-debug"]
        );
    }

    #[test]
    fn should_refuse_a_container_with_nothing_to_run() {
        let err = run(&container(), &ImageConfig::default(), &[]).unwrap_err();
        assert!(matches!(err, ImageError::NoCommand));
        assert_eq!(err.container_reason(), "CreateContainerError");
        let cleared = ImageConfig {
            entrypoint: strings(&[""]),
            cmd: strings(&["run"]),
            ..Default::default()
        };
        assert_eq!(run(&container(), &cleared, &[]).unwrap().args, ["run"]);
    }

    #[test]
    fn should_expand_container_env_in_command_and_args() {
        let c = Container {
            command: strings(&["echo", "$(GREETING) $(MISSING) $$(GREETING) cost $5"]),
            ..container()
        };
        let process = run(&c, &image(), &[("GREETING", "hello")]).unwrap();
        assert_eq!(process.args[1], "hello $(MISSING) $(GREETING) cost $5");
    }

    #[test]
    fn should_let_container_env_override_image_env_by_name_in_place() {
        let process = run(&container(), &image(), &[("MODE", "pod"), ("EXTRA", "1")]).unwrap();
        let env: Vec<(&str, &str)> = process
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("PATH", "/usr/sbin:/usr/bin"),
                ("NGINX_VERSION", "1.25"),
                ("MODE", "pod"),
                ("EXTRA", "1")
            ]
        );
        let bare = run(
            &container(),
            &ImageConfig {
                cmd: strings(&["x"]),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(bare.env, [("PATH".to_string(), DEFAULT_PATH.to_string())]);
    }

    #[test]
    fn should_prefer_the_container_working_dir() {
        let c = Container {
            working_dir: Some("/app".into()),
            ..container()
        };
        assert_eq!(run(&c, &image(), &[]).unwrap().cwd, "/app");
        let no_dir = ImageConfig {
            working_dir: None,
            ..image()
        };
        assert_eq!(run(&container(), &no_dir, &[]).unwrap().cwd, "/");
    }

    #[test]
    fn should_take_run_as_user_and_group_over_the_image_user() {
        let c = Container {
            security_context: Some(SecurityContext {
                run_as_user: Some(1000),
                ..Default::default()
            }),
            ..container()
        };
        assert_eq!(
            (
                run(&c, &image(), &[]).unwrap().uid,
                run(&c, &image(), &[]).unwrap().gid
            ),
            (1000, 0)
        );
        let pod = PodSecurityContext {
            run_as_group: Some(3000),
            supplemental_groups: Some(vec![4000]),
            fs_group: Some(2000),
            ..Default::default()
        };
        let process = process_for(
            &container(),
            Some(&pod),
            &image(),
            vec![],
            &UserDatabase::default(),
        )
        .unwrap();
        assert_eq!((process.uid, process.gid), (101, 3000));
        assert_eq!(process.supplementary_gids, [4000, 2000]);
    }

    #[test]
    fn should_resolve_named_users_from_the_image_accounts() {
        let accounts = UserDatabase::parse(
            "root:x:0:0::/root:/bin/sh\nnginx:x:101:101::/:/sbin/nologin\n",
            "root:x:0:\nnginx:x:101:\nwww:x:33:nginx\n",
        );
        let config = ImageConfig {
            user: Some("nginx".into()),
            ..image()
        };
        let process = process_for(&container(), None, &config, vec![], &accounts).unwrap();
        assert_eq!(
            (process.uid, process.gid, process.supplementary_gids),
            (101, 101, vec![33])
        );
        let config = ImageConfig {
            user: Some("nginx:www".into()),
            ..image()
        };
        assert_eq!(
            process_for(&container(), None, &config, vec![], &accounts)
                .unwrap()
                .gid,
            33
        );
        let config = ImageConfig {
            user: Some("nobody".into()),
            ..image()
        };
        let err = process_for(&container(), None, &config, vec![], &accounts).unwrap_err();
        assert_eq!(err.container_reason(), "CreateContainerConfigError");
    }

    #[test]
    fn should_refuse_root_when_run_as_non_root_is_set() {
        let non_root = |user: Option<i64>| Container {
            security_context: Some(SecurityContext {
                run_as_non_root: Some(true),
                run_as_user: user,
                ..Default::default()
            }),
            ..container()
        };
        let root_image = ImageConfig {
            user: None,
            ..image()
        };
        assert!(matches!(
            run(&non_root(None), &root_image, &[]),
            Err(ImageError::RunAsNonRoot(_))
        ));
        assert!(matches!(
            run(&non_root(Some(0)), &image(), &[]),
            Err(ImageError::RunAsNonRoot(_))
        ));
        assert!(run(&non_root(None), &image(), &[]).is_ok());
        let named = ImageConfig {
            user: Some("nginx".into()),
            ..image()
        };
        assert!(matches!(
            run(&non_root(None), &named, &[]),
            Err(ImageError::RunAsNonRoot(_))
        ));
    }
}
