//! Files through every route that rides on ssh, against the real test host: cscp (SFTP and -O),
//! csftp, rsync -e cssh, crsync, rsync --rsync-path, sshfs, git, and VS Code's argv shape.
//!
//! Transfers go to and from `/data`, a bind that exists only inside the container, so a file
//! that arrives there went through the container's view; the image's marker file, which exists
//! only in the image, downloads through every route too. Trees are compared by sha256.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::harness::*;
use std::os::unix::fs::PermissionsExt;

const USERS: [&str; 2] = ["th-bash", "th-tcsh"];
pub const CSSCP: &str = env!("CARGO_BIN_EXE_cscp");
pub const CSFTP: &str = env!("CARGO_BIN_EXE_csftp");
const CRSYNC: &str = env!("CARGO_BIN_EXE_crsync");

/// Names that break naive quoting somewhere along the way.
const NAME_PARTS: &[&str] = &[
    "plain",
    "two  spaces",
    "it's",
    "dq\"uote",
    "dollar$HOME",
    "semi;colon",
    "new\nline",
    "-leading-dash",
    "ünïcødé 漢字",
    "tab\there",
    "star*",
    "back\\slash",
    "amp&",
    "paren(",
    "#hash",
    "~tilde",
    "!bang",
];

/// The source tree, made once per machine and reused: about 1,000 small files with hostile
/// names in 10 directories, an empty file, a symlink and a 256 MiB random file.
fn source_tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| make_tree("cssh-e2e-tree-v1", 10, Some("256M")))
}

/// A smaller tree of the same kind: 200 small files in 2 directories, no big file.
pub fn small_tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| make_tree("cssh-e2e-tree-small-v1", 2, None))
}

/// A tree of `dirs` directories of 100 files with hostile names, an empty file, a symlink and a
/// random file of `big` bytes (head -c's size), made once per machine under `name`.
fn make_tree(name: &str, dirs: usize, big: Option<&str>) -> PathBuf {
    let done = std::env::temp_dir().join(name);
    if done.join("tree").is_dir() {
        return done.join("tree");
    }
    let building = std::env::temp_dir().join(format!("{name}-building-{}", std::process::id()));
    let tree = building.join("tree");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for dir in 0..dirs {
        let sub = tree.join(format!("{} dir{dir}", NAME_PARTS[dir % NAME_PARTS.len()]));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..100 {
            let name = format!("{}-{i}", NAME_PARTS[(dir * 100 + i) % NAME_PARTS.len()]);
            let len = (next() % 3000) as usize;
            let content: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            std::fs::write(sub.join(name), content).unwrap();
        }
    }
    std::fs::write(tree.join("empty"), "").unwrap();
    std::os::unix::fs::symlink("empty", tree.join("link to empty")).unwrap();
    if let Some(size) = big {
        let status = Command::new("head")
            .args(["-c", size, "/dev/urandom"])
            .stdout(std::fs::File::create(tree.join(format!("big {size}iB.bin"))).unwrap())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let _ = std::fs::rename(&building, &done);
    let _ = std::fs::remove_dir_all(&building);
    done.join("tree")
}

/// Relative path → "dir", "link:TARGET" or "file:SHA256", for every entry under `root`.
fn manifest(root: &Path) -> BTreeMap<Vec<u8>, String> {
    let mut entries = BTreeMap::new();
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            let key = path.as_os_str().as_bytes().to_vec();
            if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).unwrap();
                entries.insert(key, format!("link:{}", target.display()));
            } else if kind.is_dir() {
                entries.insert(key, "dir".into());
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for chunk in files.chunks(500) {
        let out = Command::new("sha256sum")
            .arg("-z")
            .arg("--")
            .args(chunk)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "sha256sum: {}", text(&out.stderr));
        for record in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let (hash, name) = record.split_at(64);
            entries.insert(name[2..].to_vec(), format!("file:{}", text(hash)));
        }
    }
    entries
}

pub fn assert_same_tree(what: &str, left: &Path, right: &Path) {
    let (l, r) = (manifest(left), manifest(right));
    if l != r {
        let only_left: Vec<_> = l
            .iter()
            .filter(|(k, v)| r.get(*k) != Some(v))
            .map(|(k, _)| text(k))
            .take(5)
            .collect();
        let only_right: Vec<_> = r
            .iter()
            .filter(|(k, v)| l.get(*k) != Some(v))
            .map(|(k, _)| text(k))
            .take(5)
            .collect();
        panic!(
            "{what}: {} vs {} entries; differing on the left {only_left:?}, on the right {only_right:?}",
            l.len(),
            r.len()
        );
    }
}

/// The container's `/data`: a directory on the remote that only the container sees there.
pub struct DataDir {
    pub scratch: Scratch,
    /// The directory as the client sees it in the remote root filesystem.
    remote: PathBuf,
}

impl DataDir {
    fn new(image: &str) -> DataDir {
        DataDir::with(image, "")
    }

    /// With more settings for the test hosts' entry.
    pub fn with(image: &str, settings: &str) -> DataDir {
        DataDir::made(image, |name| {
            format!("binds = [\"/tmp/{name}:/data\"]\n{settings}")
        })
    }

    /// A directory that is `/data` in the HTCondor job of each host the tests use: the test
    /// pool binds what a job's `CsshTestBind` names, as a site binds its shared filesystems.
    pub fn in_htcondor_job(image: &str) -> DataDir {
        DataDir::made(image, |name| {
            format!("htcondor = [\"+CsshTestBind = \\\"/tmp/{name}:/data\\\"\"]")
        })
    }

    /// A new directory and the settings that `settings` writes for its name.
    fn made(image: &str, settings: impl FnOnce(&str) -> String) -> DataDir {
        let name = format!("cssh-xfer-{}-{}", std::process::id(), rand_suffix());
        let remote = host().root.join("tmp").join(&name);
        std::fs::create_dir_all(&remote).unwrap();
        std::fs::set_permissions(&remote, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let scratch = tagging(image, &settings(&name));
        DataDir { scratch, remote }
    }

    pub fn config(&self) -> PathBuf {
        self.scratch.path("config.toml")
    }

    pub fn local(&self, name: &str) -> PathBuf {
        self.scratch.path(name)
    }

    /// The directory as the client sees it in the remote root filesystem.
    pub fn remote_path(&self) -> &Path {
        &self.remote
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.remote);
    }
}

fn ssh_config() -> String {
    host().ssh_config.display().to_string()
}

fn with_config(command: &mut Command, data: &DataDir) -> Output {
    command
        .env("CSSH_CONFIG", data.config())
        .env_remove("CSSH_SSH")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ScpSftp,
    ScpLegacy,
    Csftp,
    RsyncE,
    Crsync,
    RsyncPath,
}

fn rsync_path(alias: &str, data: &DataDir) -> OsString {
    let out = with_config(Command::new(CSSH).args(["--rsync-path", alias]), data);
    assert!(out.status.success(), "{}", describe(&out));
    let mut value = out.stdout;
    assert_eq!(value.pop(), Some(b'\n'));
    OsString::from_vec(value)
}

/// Copies `from` to `to`, one of them `alias:/data/...`, by `route`.
pub fn copy(route: Route, alias: &str, data: &DataDir, from: &str, to: &str) -> Output {
    copy_with(route, true, alias, data, from, to)
}

/// The same copy by the plain client, without cssh: it lands on the remote host itself.
fn copy_plain(route: Route, alias: &str, data: &DataDir, from: &str, to: &str) -> Output {
    copy_with(route, false, alias, data, from, to)
}

fn copy_with(
    route: Route,
    container: bool,
    alias: &str,
    data: &DataDir,
    from: &str,
    to: &str,
) -> Output {
    let cssh_e = format!("{CSSH} -F {}", ssh_config());
    let ssh_e = format!("ssh -F {}", ssh_config());
    let (scp, sftp) = if container {
        (CSSCP, CSFTP)
    } else {
        ("scp", "sftp")
    };
    match route {
        Route::ScpSftp => with_config(
            Command::new(scp).args(["-r", "-q", "-F", &ssh_config(), from, to]),
            data,
        ),
        Route::ScpLegacy => with_config(
            Command::new(scp).args(["-O", "-r", "-q", "-F", &ssh_config(), from, to]),
            data,
        ),
        Route::Csftp => {
            let (verb, remote, local) = match from.strip_prefix(&format!("{alias}:")) {
                Some(remote) => ("get", remote, to),
                None => ("put", to.strip_prefix(&format!("{alias}:")).unwrap(), from),
            };
            let batch = match verb {
                "get" => format!("get -R \"{remote}\" \"{local}\"\n"),
                _ => format!("put -R \"{local}\" \"{remote}\"\n"),
            };
            run_with_input(
                Command::new(sftp)
                    .args(["-q", "-F", &ssh_config(), "-b", "-", alias])
                    .env("CSSH_CONFIG", data.config()),
                batch.as_bytes(),
            )
        }
        Route::RsyncE => with_config(
            Command::new("rsync").args(["-a", "-e", &cssh_e, from, to]),
            data,
        ),
        Route::Crsync => with_config(
            Command::new(CRSYNC).args(["-a", "-e", &ssh_e, from, to]),
            data,
        ),
        Route::RsyncPath => with_config(
            Command::new("rsync")
                .args(["-a", "-e", &ssh_e])
                .arg(OsString::from_vec(
                    [
                        b"--rsync-path=".to_vec(),
                        rsync_path(alias, data).into_vec(),
                    ]
                    .concat(),
                ))
                .args([from, to]),
            data,
        ),
    }
}

/// A directory operand: rsync copies a directory's contents when it ends with `/`.
fn directory(route: Route, path: &str) -> String {
    match route {
        Route::RsyncE | Route::Crsync | Route::RsyncPath => format!("{path}/"),
        _ => path.to_string(),
    }
}

/// Pushes the source tree to the container's /data and pulls it back, for each user, then
/// downloads the image's marker.
fn round_trip(route: Route) {
    round_trip_in(route, &DataDir::new(FULL_SIF), source_tree());
}

/// [`round_trip`] of the tree `source` with the settings of `data`.
pub fn round_trip_in(route: Route, data: &DataDir, source: &Path) {
    round_trip_as(route, data, source, &USERS);
}

/// [`round_trip_in`] as each of `aliases`.
pub fn round_trip_as(route: Route, data: &DataDir, source: &Path, aliases: &[&str]) {
    for &alias in aliases {
        let pushed = format!("{alias}-push");
        let remote = directory(route, &format!("{alias}:/data/{pushed}"));
        let out = copy(
            route,
            alias,
            data,
            &directory(route, &source.display().to_string()),
            &remote,
        );
        assert!(
            out.status.success(),
            "{route:?} push as {alias}: {}",
            describe(&out)
        );
        if matches!(route, Route::ScpSftp | Route::Csftp) {
            // scp follows symlinks and sftp skips them: whatever the plain client does to the
            // tree, the same must happen through cssh.
            let plain = host().root.join(format!(
                "tmp/{}-plain",
                data.remote.file_name().unwrap().to_string_lossy()
            ));
            let plain_remote = format!(
                "{alias}:/{}",
                plain.strip_prefix(&host().root).unwrap().display()
            );
            let out = copy_plain(
                route,
                alias,
                data,
                &source.display().to_string(),
                &plain_remote,
            );
            assert!(
                out.status.success(),
                "plain {route:?} push as {alias}: {}",
                describe(&out)
            );
            assert_same_tree(
                &format!("{route:?} push as {alias}, against plain"),
                &plain,
                &data.remote.join(&pushed),
            );
            std::fs::remove_dir_all(&plain).unwrap();
            let mut without_link = manifest(source);
            without_link.remove(&b"link to empty"[..]);
            let mut arrived = manifest(&data.remote.join(&pushed));
            arrived.remove(&b"link to empty"[..]);
            assert!(
                arrived == without_link,
                "{route:?} push as {alias}: every file and directory arrives intact"
            );
        } else {
            assert_same_tree(
                &format!("{route:?} push as {alias}"),
                source,
                &data.remote.join(&pushed),
            );
        }
        let pulled = data.local(&format!("{alias}-pull"));
        let out = copy(
            route,
            alias,
            data,
            &remote,
            &directory(route, &pulled.display().to_string()),
        );
        assert!(
            out.status.success(),
            "{route:?} pull as {alias}: {}",
            describe(&out)
        );
        assert_same_tree(
            &format!("{route:?} pull as {alias}"),
            &data.remote.join(&pushed),
            &pulled,
        );
        std::fs::remove_dir_all(&pulled).unwrap();
        std::fs::remove_dir_all(data.remote.join(&pushed)).unwrap();
    }
    download_marker(route, data, aliases);
}

/// The marker exists only in the image: it downloads through `route` for each user.
fn download_marker(route: Route, data: &DataDir, aliases: &[&str]) {
    for &alias in aliases {
        let marker = data.local("marker");
        let out = copy(
            route,
            alias,
            data,
            &format!("{alias}:{}", host().image_marker),
            &marker.display().to_string(),
        );
        assert!(
            out.status.success(),
            "{route:?} marker as {alias}: {}",
            describe(&out)
        );
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            FULL_MARKER,
            "{route:?} as {alias}"
        );
        std::fs::remove_file(marker).unwrap();
    }
}

#[test]
fn cscp_sftp_mode_round_trips_the_tree() {
    round_trip(Route::ScpSftp);
}

#[test]
fn csftp_batch_round_trips_the_tree() {
    round_trip(Route::Csftp);
}

#[test]
fn rsync_e_cssh_round_trips_the_tree() {
    round_trip(Route::RsyncE);
}

#[test]
fn crsync_round_trips_the_tree() {
    round_trip(Route::Crsync);
}

#[test]
fn rsync_path_route_round_trips_the_tree() {
    round_trip(Route::RsyncPath);
}

/// Legacy scp cannot carry a file name with a newline (scp skips it, with an error), through
/// cssh or not: the tree through cscp -O must equal the tree through plain scp -O.
#[test]
fn cscp_legacy_mode_matches_plain_scp() {
    let source = source_tree();
    let data = DataDir::new(FULL_SIF);
    for alias in USERS {
        let pushed = format!("{alias}-push");
        let via_cssh = copy(
            Route::ScpLegacy,
            alias,
            &data,
            &source.display().to_string(),
            &format!("{alias}:/data/{pushed}"),
        );
        let plain_dir = format!(
            "/tmp/{}-plain",
            data.remote.file_name().unwrap().to_string_lossy()
        );
        let plain = run(Command::new("scp")
            .args(["-O", "-r", "-q", "-F", &ssh_config()])
            .arg(source)
            .arg(format!("{alias}:{plain_dir}")));
        assert_eq!(
            via_cssh.status.code(),
            plain.status.code(),
            "{alias}: {}\n{}",
            describe(&via_cssh),
            describe(&plain)
        );
        assert_eq!(
            text(&via_cssh.stderr),
            text(&plain.stderr).replace(&plain_dir, &format!("/data/{pushed}"))
        );
        let plain_remote = host().root.join(plain_dir.trim_start_matches('/'));
        assert_same_tree(
            &format!("scp -O push as {alias}"),
            &plain_remote,
            &data.remote.join(&pushed),
        );
        // What has no newline in its path arrived intact, the 256 MiB file among them.
        let arrived = manifest(&data.remote.join(&pushed));
        let source_entries = manifest(source);
        let big = &b"big 256MiB.bin"[..];
        assert_eq!(arrived.get(big), source_entries.get(big));
        for (path, entry) in source_entries
            .iter()
            .filter(|(p, e)| !p.contains(&b'\n') && e.starts_with("file:"))
        {
            assert_eq!(arrived.get(path), Some(entry), "{}", text(path));
        }
        let pulled = data.local(&format!("{alias}-pull"));
        let out = copy(
            Route::ScpLegacy,
            alias,
            &data,
            &format!("{alias}:/data/{pushed}"),
            &pulled.display().to_string(),
        );
        assert!(out.status.success(), "{}", describe(&out));
        assert_same_tree(
            &format!("scp -O pull as {alias}"),
            &data.remote.join(&pushed),
            &pulled,
        );
        std::fs::remove_dir_all(plain_remote).unwrap();
        std::fs::remove_dir_all(&pulled).unwrap();
    }
    download_marker(Route::ScpLegacy, &data, &USERS);
}

#[test]
fn sshfs_mounts_the_containers_view() {
    sshfs_round_trip(&DataDir::new(FULL_SIF), source_tree());
}

/// sshfs mounts the container's view for each user: the image's marker reads, and `source` is
/// copied in and out intact.
pub fn sshfs_round_trip(data: &DataDir, source: &Path) {
    for alias in USERS {
        let mount = data.local(&format!("mnt-{alias}"));
        std::fs::create_dir(&mount).unwrap();
        let out = with_config(
            Command::new("sshfs")
                .arg("-o")
                .arg(format!("ssh_command={CSSH} -F {}", ssh_config()))
                .arg(format!("{alias}:/"))
                .arg(&mount),
            data,
        );
        assert!(out.status.success(), "sshfs as {alias}: {}", describe(&out));
        let unmount = Unmount(mount.clone());
        assert_eq!(
            std::fs::read_to_string(mount.join("etc/cssh-image-marker")).unwrap(),
            FULL_MARKER
        );
        let pushed = mount.join(format!("data/{alias}-push"));
        // Ownership cannot follow (the remote user is not root): modes and links do. Times are
        // not asked for: sshfs sets a link's times through the link (SETSTAT follows it), which
        // fails while its target is not copied yet, and cp copies in the directory order of the
        // machine's filesystem, which differs from one to the next (README, Limitations).
        let out = run(Command::new("cp")
            .args(["-R", "--preserve=mode"])
            .arg(source)
            .arg(&pushed));
        assert!(out.status.success(), "{}", describe(&out));
        assert_same_tree(
            &format!("sshfs push as {alias}"),
            source,
            &data.remote.join(format!("{alias}-push")),
        );
        let pulled = data.local(&format!("{alias}-pull"));
        let out = run(Command::new("cp")
            .args(["-R", "--preserve=mode,timestamps"])
            .arg(&pushed)
            .arg(&pulled));
        assert!(out.status.success(), "{}", describe(&out));
        assert_same_tree(&format!("sshfs pull as {alias}"), source, &pulled);
        drop(unmount);
        std::fs::remove_dir_all(pulled).unwrap();
    }
}

pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3").arg("-u").arg(&self.0).status();
    }
}

#[test]
fn git_clones_pushes_and_fetches_through_the_containers_git() {
    git_round_trip(&DataDir::new(FULL_SIF));
}

/// A bare repository made in the image's /data, cloned, pushed to and fetched from, by git's two
/// ways of running its ssh, for each user.
pub fn git_round_trip(data: &DataDir) {
    let git = |dir: &Path, args: &[&str], via: &[(&str, String)]| -> Output {
        let mut command = Command::new("git");
        command
            .current_dir(dir)
            .args(["-c", "user.name=cssh", "-c", "user.email=cssh@example.org"])
            .args(args)
            .env("CSSH_CONFIG", data.config())
            .env_remove("GIT_SSH")
            .env_remove("GIT_SSH_COMMAND");
        for (key, value) in via {
            command.env(key, value);
        }
        let out = command.stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", describe(&out));
        out
    };
    // Both ways git runs its ssh: a command line through sh, and a bare program, which gets
    // the test host's ssh_config through the ssh that cssh runs.
    let command = vec![("GIT_SSH_COMMAND", format!("{CSSH} -F {}", ssh_config()))];
    let wrapper = data.local("ssh-with-config");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec ssh -F '{}' \"$@\"\n", ssh_config()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = vec![
        ("GIT_SSH", CSSH.to_string()),
        ("CSSH_SSH", wrapper.display().to_string()),
    ];

    for alias in USERS {
        // The bare repository is made by the image's git, at a path only the container has.
        let repo = format!("/data/{alias}.git");
        let out =
            run(cssh(&data.scratch)
                .args([alias, "git", "init", "-q", "--bare", "-b", "main", &repo]));
        assert!(out.status.success(), "{}", describe(&out));
        let work = data.local(&format!("work-{alias}"));
        std::fs::create_dir(&work).unwrap();
        let url = format!("{alias}:{repo}");
        git(&work, &["clone", "-q", &url, "one"], &command);
        let one = work.join("one");
        std::fs::write(one.join("file"), "first\n").unwrap();
        git(&one, &["add", "file"], &[]);
        git(&one, &["commit", "-q", "-m", "first"], &[]);
        git(&one, &["push", "-q", "origin", "HEAD:main"], &command);
        git(&work, &["clone", "-q", &url, "two"], &program);
        let two = work.join("two");
        assert_eq!(
            std::fs::read_to_string(two.join("file")).unwrap(),
            "first\n"
        );
        std::fs::write(two.join("file"), "second\n").unwrap();
        git(&two, &["commit", "-q", "-a", "-m", "second"], &[]);
        git(&two, &["push", "-q", "origin", "main"], &program);
        git(&one, &["fetch", "-q", "origin"], &command);
        let log = git(&one, &["log", "--format=%s", "origin/main"], &[]);
        assert_eq!(text(&log.stdout), "second\nfirst\n", "{alias}");
        assert!(
            data.remote.join(format!("{alias}.git/HEAD")).exists(),
            "the repository is behind the container's /data"
        );
    }
}

/// VS Code Remote-SSH's shape: `-T -D PORT ... host bash`, its install script on stdin.
pub fn vs_code_session(config: &Scratch, alias: &str, script: &str) -> Output {
    run_with_input(
        cssh(config).args([
            "-T",
            "-D",
            &free_port(),
            "-o",
            "ConnectTimeout=15",
            "-o",
            "RemoteCommand=none",
            alias,
            "bash",
        ]),
        script.as_bytes(),
    )
}

#[test]
fn vs_code_remote_ssh_shape_runs_bash_in_the_container() {
    let config = tagging(FULL_SIF, "");
    let script = format!(
        "cat {}\necho \"bash=$BASH_VERSION\"\necho listeningOn==127.0.0.1:1234==\nexit 0\n",
        host().image_marker
    );
    for alias in USERS {
        let out = vs_code_session(&config, alias, &script);
        assert!(out.status.success(), "{alias}: {}", describe(&out));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(FULL_MARKER) && stdout.contains("bash=5.2"),
            "{alias}: {stdout}"
        );
        assert!(
            stdout.ends_with("listeningOn==127.0.0.1:1234==\n"),
            "{alias}: {stdout}"
        );
    }
}

#[test]
fn missing_transfer_tools_are_one_line_each() {
    let data = DataDir::new(BARE_SIF);
    let config = data.config().display().to_string();
    let local = data.local("x").display().to_string();
    let cases: [(&str, Output); 4] = [
        (
            "no sftp-server in IMG (set sftp_server in CONFIG, or use scp -O)",
            copy(
                Route::ScpSftp,
                "th-bash",
                &data,
                "th-bash:/etc/cssh-image-marker",
                &local,
            ),
        ),
        (
            "no scp in IMG (scp -O runs the image's scp; without -O scp uses its sftp-server)",
            copy(
                Route::ScpLegacy,
                "th-bash",
                &data,
                "th-bash:/etc/cssh-image-marker",
                &local,
            ),
        ),
        (
            "no rsync in IMG",
            copy(
                Route::RsyncE,
                "th-bash",
                &data,
                "th-bash:/etc/cssh-image-marker",
                &local,
            ),
        ),
        ("no git in IMG", {
            let mut command = Command::new("git");
            command
                .args(["clone", "-q", "th-bash:/data/none.git"])
                .arg(data.local("clone"))
                .env("GIT_SSH_COMMAND", format!("{CSSH} -F {}", ssh_config()));
            with_config(&mut command, &data)
        }),
    ];
    for (message, out) in cases {
        let expected = format!(
            "cssh: th-bash: {}",
            message.replace("IMG", BARE_SIF).replace("CONFIG", &config)
        );
        assert!(!out.status.success(), "{message}");
        assert!(
            text(&out.stderr).contains(&expected),
            "{message}: {}",
            describe(&out)
        );
    }
}

#[test]
fn a_users_own_ssh_program_is_kept() {
    let data = DataDir::new(FULL_SIF);
    let wrapper = data.local("my ssh");
    let log = data.local("used");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho used >> '{}'\nexec ssh \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = data.local("marker");
    let out = with_config(
        Command::new(CSSCP)
            .arg("-S")
            .arg(&wrapper)
            .args(["-F", &ssh_config(), "th-fish:/etc/cssh-image-marker"])
            .arg(&marker),
        &data,
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), FULL_MARKER);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "used\n",
        "scp -S prog is cssh's ssh"
    );
    let dry = with_config(
        Command::new(CRSYNC).args(["--cssh-dry-run", "-e", "ssh -p 2222", "a", "h:b"]),
        &data,
    );
    let line = text(&dry.stdout);
    assert!(
        line.contains(&format!("-e '{CSSH} -p 2222' a h:b")),
        "{line}"
    );
}

#[test]
fn the_wrappers_dry_run_lines_run_as_printed() {
    // Each line, given to sh as it was printed, copies the image's marker with the configuration
    // the wrapper was given (the line carries it as CSSH_CONFIG).
    let config = tagging(FULL_SIF, "");
    let config_path = config.path("config.toml").display().to_string();
    let dir = config.path("got");
    std::fs::create_dir(&dir).unwrap();
    let got = |name: &str| dir.join(name).display().to_string();
    let batch = config.path("batch");
    std::fs::write(
        &batch,
        format!("get /etc/cssh-image-marker {}\n", got("sftp")),
    )
    .unwrap();
    let remote = "th-bash:/etc/cssh-image-marker";
    let rsync_e = format!("ssh -F {}", ssh_config());
    let cases: [(&str, Vec<String>, String); 3] = [
        (
            CSSCP,
            vec!["-F".into(), ssh_config(), remote.into(), got("scp")],
            got("scp"),
        ),
        (
            CSFTP,
            vec![
                "-F".into(),
                ssh_config(),
                "-b".into(),
                batch.display().to_string(),
                "th-bash".into(),
            ],
            got("sftp"),
        ),
        (
            CRSYNC,
            vec!["-e".into(), rsync_e, remote.into(), got("rsync")],
            got("rsync"),
        ),
    ];
    for (wrapper, args, out) in cases {
        let dry = run(Command::new(wrapper)
            .env_remove("CSSH_CONFIG")
            .args(["--cssh-config", &config_path, "--cssh-dry-run"])
            .args(&args));
        assert!(dry.status.success(), "{wrapper}: {}", describe(&dry));
        let line = text(&dry.stdout);
        assert!(line.starts_with("CSSH_CONFIG="), "{wrapper}: {line}");
        let ran = run(Command::new("sh")
            .env_remove("CSSH_CONFIG")
            .arg("-c")
            .arg(line.trim_end()));
        assert!(
            ran.status.success(),
            "{wrapper}: {line}: {}",
            describe(&ran)
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap_or_default(),
            FULL_MARKER,
            "{wrapper}: {line}"
        );
    }
}

#[test]
fn exit_statuses_are_the_clients() {
    let data = DataDir::new(FULL_SIF);
    let local = data.local("x").display().to_string();
    let missing = copy(
        Route::ScpSftp,
        "th-bash",
        &data,
        "th-bash:/data/no-such-file",
        &local,
    );
    let plain =
        run(Command::new("scp").args(["-q", "-F", &ssh_config(), "th-bash:/no-such-file", &local]));
    assert_eq!(missing.status.code(), plain.status.code());
    assert_eq!(missing.status.code(), Some(1));
    let rsync = copy(
        Route::Crsync,
        "th-bash",
        &data,
        "th-bash:/data/no-such-file",
        &local,
    );
    assert_eq!(
        rsync.status.code(),
        Some(23),
        "rsync's partial-transfer status: {}",
        describe(&rsync)
    );
}

#[test]
fn cscp_keeps_scps_own_options_and_copies_remote_to_remote() {
    let data = DataDir::new(FULL_SIF);
    let client = host().ssh_config.parent().unwrap().to_path_buf();
    let (first, second) = (data.local("first file"), data.local("second"));
    std::fs::write(&first, "one\n").unwrap();
    std::fs::write(&second, "two\n").unwrap();
    // Explicit options instead of an alias: -p -C -P -i -l (a bandwidth limit) -o, several
    // sources, user@host.
    let out = with_config(
        Command::new(CSSCP)
            .args(["-p", "-C", "-q", "-P", &host().port, "-i"])
            .arg(client.join("id_ed25519"))
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "HostKeyAlias=cssh-testhost",
                "-o",
            ])
            .arg(format!(
                "UserKnownHostsFile={}",
                client.join("known_hosts").display()
            ))
            .args(["-l", "100000"])
            .arg(&first)
            .arg(&second)
            .arg("tcshuser@127.0.0.1:/data/"),
        &data,
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(data.remote.join("first file")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(data.remote.join("second")).unwrap(),
        "two\n"
    );
    // Remote to remote goes through this machine (-3, scp's default), both ends in containers.
    for extra in [&[][..], &["-3"]] {
        let out = with_config(
            Command::new(CSSCP).args(extra).args([
                "-q",
                "-F",
                &ssh_config(),
                "th-bash:/etc/cssh-image-marker",
                "th-tcsh:/data/copied",
            ]),
            &data,
        );
        assert!(out.status.success(), "{extra:?}: {}", describe(&out));
        assert_eq!(
            std::fs::read_to_string(data.remote.join("copied")).unwrap(),
            FULL_MARKER
        );
        std::fs::remove_file(data.remote.join("copied")).unwrap();
    }
}

/// rsync's argument protection (backslashes, 3.2.4+), `-s` and `--old-args` behave through
/// cssh exactly as they do without it.
#[test]
fn rsync_argument_modes_match_plain_rsync() {
    let data = DataDir::new(FULL_SIF);
    let name = "a b$c;d'e (f)";
    std::fs::write(data.remote.join(name), "payload\n").unwrap();
    let host_path = format!(
        "/tmp/{}",
        data.remote.file_name().unwrap().to_string_lossy()
    );
    for mode in [&[][..], &["-s"], &["--old-args"]] {
        let via_cssh = data.local("via-cssh");
        let plain = data.local("plain");
        let a = with_config(
            Command::new(CRSYNC)
                .args(mode)
                .args([
                    "-e",
                    &format!("ssh -F {}", ssh_config()),
                    &format!("th-bash:/data/{name}"),
                ])
                .arg(&via_cssh),
            &data,
        );
        let b = with_config(
            Command::new("rsync")
                .args(mode)
                .args([
                    "-e",
                    &format!("ssh -F {}", ssh_config()),
                    &format!("th-bash:{host_path}/{name}"),
                ])
                .arg(&plain),
            &data,
        );
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "{mode:?}: {}\n{}",
            describe(&a),
            describe(&b)
        );
        assert_eq!(
            std::fs::read(&via_cssh).ok(),
            std::fs::read(&plain).ok(),
            "{mode:?}"
        );
        if mode != ["--old-args"] {
            assert_eq!(
                std::fs::read_to_string(&via_cssh).unwrap(),
                "payload\n",
                "{mode:?}"
            );
        }
        let _ = std::fs::remove_file(via_cssh);
        let _ = std::fs::remove_file(plain);
    }
}

#[test]
fn a_printed_sftp_server_command_serves_the_containers_view_to_plain_sftp() {
    // For tools with an ssh of their own that send a remote command for the sftp server
    // (rclone's --sftp-server-command); plain sftp's `-s` with a path does the same.
    let data = DataDir::new(FULL_SIF);
    for alias in USERS {
        let out = with_config(
            Command::new(CSSH).args(["--sftp-server-command", alias]),
            &data,
        );
        assert!(out.status.success(), "{}", describe(&out));
        let command = OsString::from_vec(out.stdout.trim_ascii_end().to_vec());
        let marker = data.local(&format!("marker-{alias}"));
        let batch = format!(
            "get {} {}\nput {} /data/back-{alias}\n",
            host().image_marker,
            marker.display(),
            marker.display()
        );
        let out = run_with_input(
            Command::new("sftp")
                .args(["-q", "-F", &ssh_config(), "-b", "-", "-s"])
                .arg(&command)
                .arg(alias),
            batch.as_bytes(),
        );
        assert!(out.status.success(), "{alias}: {}", describe(&out));
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), FULL_MARKER);
        assert_eq!(
            std::fs::read_to_string(data.remote.join(format!("back-{alias}"))).unwrap(),
            FULL_MARKER,
            "{alias}: /data exists only in the container"
        );
    }
}

#[test]
fn links_named_scp_sftp_and_rsync_reach_the_container_for_tagged_hosts_only() {
    // Tools that run plain `scp`, `sftp` or `rsync` (Ansible, git-annex) find the wrappers
    // first on PATH; the wrappers find the real programs without running themselves again.
    let data = DataDir::new(FULL_SIF);
    let bin = data.local("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, target) in [("scp", CSSCP), ("sftp", CSFTP), ("rsync", CRSYNC)] {
        std::os::unix::fs::symlink(target, bin.join(name)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let with_links = |program: &str| {
        let mut command = Command::new(program);
        command.env("PATH", &path);
        command
    };
    let source = data.local("file");
    std::fs::write(&source, b"through a link\n").unwrap();
    let ssh_e = format!("ssh -F {}", ssh_config());
    let remote = host().root.join("tmp");
    // The container's /data, and the host's own /tmp for the untagged alias.
    for (what, alias, dir, landed) in [
        ("tagged", "th-bash", "/data", data.remote.clone()),
        ("untagged", "th-plain", "/tmp", remote),
    ] {
        let name = format!("link-{}", rand_suffix());
        let out = with_config(
            with_links("scp")
                .args(["-q", "-F", &ssh_config()])
                .arg(&source)
                .arg(format!("{alias}:{dir}/{name}-scp")),
            &data,
        );
        assert!(out.status.success(), "scp {what}: {}", describe(&out));
        let out = with_config(
            with_links("rsync")
                .args(["-e", &ssh_e])
                .arg(&source)
                .arg(format!("{alias}:{dir}/{name}-rsync")),
            &data,
        );
        assert!(out.status.success(), "rsync {what}: {}", describe(&out));
        let out = run_with_input(
            with_links("sftp").env("CSSH_CONFIG", data.config()).args([
                "-q",
                "-F",
                &ssh_config(),
                "-b",
                "-",
                alias,
            ]),
            format!("put {} {dir}/{name}-sftp\n", source.display()).as_bytes(),
        );
        assert!(out.status.success(), "sftp {what}: {}", describe(&out));
        for tool in ["scp", "rsync", "sftp"] {
            let arrived = landed.join(format!("{name}-{tool}"));
            assert_eq!(
                std::fs::read(&arrived).unwrap_or_default(),
                b"through a link\n",
                "{tool} to the {what} host lands in {}",
                arrived.display()
            );
            let _ = std::fs::remove_file(arrived);
        }
    }
}

/// Every client round-trips a tree (scp -O, which cannot carry the tree's newline names, a
/// binary file), and git a repository.
pub fn every_client_round_trips(data: &DataDir) {
    for route in [
        Route::ScpSftp,
        Route::Csftp,
        Route::RsyncE,
        Route::RsyncPath,
    ] {
        round_trip_in(route, data, small_tree());
    }
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
    let (local, back) = (data.local("legacy"), data.local("legacy-back"));
    std::fs::write(&local, &bytes).unwrap();
    for alias in ["th-bash", "th-tcsh", "th-fish"] {
        let remote = format!("{alias}:/data/legacy-{alias}");
        let out = copy(
            Route::ScpLegacy,
            alias,
            data,
            &local.display().to_string(),
            &remote,
        );
        assert!(
            out.status.success(),
            "scp -O push as {alias}: {}",
            describe(&out)
        );
        let out = copy(
            Route::ScpLegacy,
            alias,
            data,
            &remote,
            &back.display().to_string(),
        );
        assert!(
            out.status.success(),
            "scp -O pull as {alias}: {}",
            describe(&out)
        );
        assert!(
            std::fs::read(&back).unwrap() == bytes,
            "scp -O as {alias}: bytes intact"
        );
    }
    sshfs_round_trip(data, small_tree());
    git_round_trip(data);
}
