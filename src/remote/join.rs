//! Into a running instance by its namespaces, without the runtime: the remote script's fast
//! join, which gives a command what `apptainer exec instance://NAME` gives it (the same
//! namespaces, root, working directory and environment) in a few milliseconds instead of the
//! hundred that Apptainer's starter takes. Where it cannot be exact it is not taken, silently:
//! `apptainer exec instance://NAME` runs as before.
//!
//! Once per instance (its first process and start time), a look at the instance decides whether
//! the join can reproduce it: Apptainer's own instance (its state file under `~/.apptainer`), a
//! user namespace (not setuid mode), no cgroup, seccomp, AppArmor, SELinux, capability,
//! fakeroot or checkpoint settings, no cgroup or time namespace of its own, and an nsenter that
//! keeps the user's credentials (util-linux 2.26). The same look builds the part of the
//! environment that the instance fixes: Apptainer's action script sources the image's
//! `/.singularity.d/env/*.sh` with the session's variables hidden, then restores each session
//! variable the scripts did not set and unsets each set-but-empty one. Sourcing depends only on
//! the instance (its image, name and home), so the result is kept beside Apptainer's state file
//! (`cssh-join-2`, which goes when the instance stops) and each command only lays the session's
//! variables under it. A session whose variables Apptainer itself reads (`APPTAINER_*`,
//! `SINGULARITY_*`, an exported PS1 or PROMPT_COMMAND, a name that is not a shell name) takes
//! the runtime; exported bash functions, which Apptainer keeps out, are kept out here too.
//!
//! What the image's scripts set is the container's: it is kept in the
//! record as quoted text, travels to the image's sh in one variable (`CSSH_JENV`) and is
//! evaluated only there, so nothing of it (an `LD_PRELOAD`, a `PATH`) reaches nsenter, setpriv
//! or any other program of the host; an image whose scripts print anything takes the runtime,
//! which prints it as Apptainer does. The record is read only where it and its directory are the
//! user's and writable by no one else, and written with umask 077.
//!
//! Safety, as for attach: the namespaces are opened as descriptors first and only then is the
//! instance's process checked again (start time, owner), so a reused pid is never entered.

use super::script::{Script, define_quote, private_file, proc_stat};

/// The name of the join's record beside the instance's state file; the number changes with
/// what the record holds, so an older record is never read as a newer one.
const RECORD: &str = "cssh-join-2";

/// The most text the instance's environment may be: it travels as one variable, and Linux takes
/// at most 128 KiB for one (`MAX_ARG_STRLEN`).
const MAX_CODE: usize = 120_000;

/// Apptainer's default PATH (`env.DefaultPath`), which its environment building starts from.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the image's `/bin/sh` runs first inside an instance the fast join entered (the join sets
/// `CSSH_WD`; through the runtime it is unset and nothing happens): the descriptors of the
/// namespaces close; the instance's environment (`CSSH_JENV`, the record's text, evaluated
/// here and nowhere on the host) goes over the session's, whose HOME, PATH and LD_LIBRARY_PATH
/// are the container's, and whose variables the image sets empty are unset, as Apptainer does;
/// and the working directory becomes the caller's where it exists inside, else home, else `/`,
/// as Apptainer's starter does, with `OLDPWD` left as it was.
pub(super) const ENTERED: &[u8] = br#"if [ -n "${CSSH_WD+x}" ]; then exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&-; eval "$CSSH_JENV"; cssh_ju=; for cssh_l in $cssh_j_empty; do eval "[ -z \"\${$cssh_l+x}\" ]" || cssh_ju="$cssh_ju $cssh_l"; done; unset HOME PATH LD_LIBRARY_PATH CSSH_JENV; cssh_j_env; [ -z "$cssh_ju" ] || unset $cssh_ju; unset -f cssh_j_env; unset cssh_j_empty cssh_ju cssh_l; cssh_o=${OLDPWD-}; cssh_u=${OLDPWD+x}; cd "$CSSH_WD" 2>/dev/null || { printf "WARNING: Error changing the container working directory. Using '%s' instead: chdir %s: no such file or directory\n" "$HOME" "$CSSH_WD" >&2; cd "$HOME" 2>/dev/null; } || cd /; if [ -n "$cssh_u" ]; then OLDPWD=$cssh_o; else unset OLDPWD; fi; unset CSSH_WD cssh_o cssh_u; fi; "#;

/// The parent of a command on a terminal: a foreground job of its own, then its status, or its
/// signal raised again so that ssh reports the same.
const TERMINAL_PARENT: &[u8] =
    b"set -m; \"$@\"; cssh_s=$?; [ \"$cssh_s\" -le 128 ] || kill -$((cssh_s - 128)) $$; exit \"$cssh_s\"";

/// The remote script's way into instance `name` (a shell word: a quoted name or a variable)
/// with the command in `"$@"`: the fast join where the instance allows it, else the runtime's
/// `exec instance://`, starting the instance first where it does not run (`start`, which sets
/// `cssh_running` too).
pub(super) fn enter(s: &mut Script, name: &str, start: impl FnOnce(&mut Script)) {
    define(s);
    s.raw(&format!(
        "cssh_join {name} \"$@\"\n[ $? = 1 ] && cssh_fresh=yes || cssh_fresh=\n"
    ));
    start(s);
    s.raw(&format!(
        "[ -n \"$cssh_fresh\" ] && cssh_join_look {name} && cssh_join {name} \"$@\"\n"
    ));
    s.raw(&format!(
        "exec \"$cssh_rt\" exec \"instance://\"{name} \"$@\"\n"
    ));
}

/// The doctor's view: `cssh_jway`, the way a command takes into instance `name` and why, as
/// `namespaces` or `runtime (WHY)`, once a session has looked at the instance.
pub(super) fn report(s: &mut Script, name: &str) {
    define(s);
    s.raw(&format!(
        "if cssh_join_ready {name}; then cssh_jclose; cssh_jway=namespaces; else cssh_jway=\"runtime ($cssh_j_why)\"; fi\n"
    ));
}

/// The shell functions of the join: `cssh_join NAME ARGV...` execs ARGV in the instance or
/// returns 1 (look at it first) or 2 (take the runtime), having changed nothing;
/// `cssh_join_ready` its checks; `cssh_join_look NAME` the look that writes the record.
fn define(s: &mut Script) {
    proc_stat(s);
    private_file(s);
    session_plain(s);
    define_quote(s);
    // The namespaces of process $1 that differ from the session's, opened as descriptors: user
    // and mount always, the others where the instance has its own.
    s.raw("cssh_jopen() {\n  cssh_jns=\"--user=/dev/fd/4 --mount=/dev/fd/5\"\n");
    s.raw("  { command exec 4<\"/proc/$1/ns/user\" 5<\"/proc/$1/ns/mnt\"; } 2>/dev/null || return 1\n");
    for (ns, flag, fd) in [
        ("pid", "--pid", 6),
        ("uts", "--uts", 7),
        ("ipc", "--ipc", 8),
        ("net", "--net", 3),
    ] {
        s.raw(&format!(
            "  [ \"/proc/$1/ns/{ns}\" -ef /proc/self/ns/{ns} ] || {{ {{ command exec {fd}<\"/proc/$1/ns/{ns}\"; }} 2>/dev/null || return 1; cssh_jns=\"$cssh_jns {flag}=/dev/fd/{fd}\"; }}\n"
        ));
    }
    s.raw("}\ncssh_jclose() { exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&-; }\n");
    // Where Apptainer keeps the instance's state on this host.
    s.raw("cssh_jdir() {\n  cssh_jh=; read -r cssh_jh </proc/sys/kernel/hostname 2>/dev/null\n");
    s.raw(&format!(
        "  cssh_jd=\"$HOME/.apptainer/instances/app/$cssh_jh/${{USER:-$LOGNAME}}/$1\"; cssh_jc=\"$cssh_jd/{RECORD}\"\n}}\n"
    ));
    ready(s);
    s.raw("cssh_join() {\n  cssh_join_ready \"$1\" || return\n  shift\n");
    // Apptainer's own additions from the session: USER_PATH; HOME, PATH and LD_LIBRARY_PATH are
    // the container's.
    s.raw("  USER_PATH=\"$PATH:/bin:/usr/bin:/sbin:/usr/sbin:/usr/local/bin:/usr/local/sbin\"; export USER_PATH\n");
    s.raw("  CSSH_WD=$PWD CSSH_JENV=$cssh_j_code; export CSSH_WD CSSH_JENV\n");
    // As Apptainer's own: no new privileges (the container's root is not mounted nosuid).
    // On a terminal, the command's process group must be one its pid namespace can see, or a
    // shell cannot give the terminal back when it exits (nsenter's own group is outside): a
    // job-control sh that stays outside the pid namespace runs it as a foreground job there,
    // then ends as it did.
    s.raw("  if [ -t 0 ]; then set -- --no-fork /bin/sh -c");
    s.word(TERMINAL_PARENT);
    s.raw(" sh \"$@\"; fi\n");
    s.raw("  exec \"$cssh_j_setpriv\" --no-new-privs \"$cssh_j_nsenter\" $cssh_jns --preserve-credentials \"$@\"\n}\n");
    look(s);
}

/// `cssh_join_ready NAME`: the record is the user's own and this running instance's and allows
/// the join, the session has nothing Apptainer reads or drops, and the namespaces are open
/// (`cssh_jns`), the process checked after they opened; else `cssh_j_why`, no descriptor left
/// open, and 1 where a new look may help, 2 where it cannot. A record someone else could have
/// written is never sourced: a new look replaces it.
fn ready(s: &mut Script) {
    s.raw("cssh_join_ready() {\n  cssh_j_why='the instance does not run'; cssh_j_pid=; cssh_j_slow=; cssh_j_console=; cssh_j_code=\n  cssh_jdir \"$1\"\n");
    s.raw("  [ -f \"$cssh_jc\" ] && cssh_private \"$cssh_jc\" && . \"$cssh_jc\" 2>/dev/null || return 1\n");
    s.raw("  [ -z \"$cssh_j_slow\" ] || { cssh_j_why=$cssh_j_slow; return 2; }\n");
    s.raw("  [ -x \"$cssh_j_setpriv\" ] && [ -x \"$cssh_j_nsenter\" ] || return 1\n");
    // Apptainer points a terminal's descriptors at the container's own /dev/console where the
    // container has a /dev of its own; a join from outside cannot.
    s.raw("  [ -z \"$cssh_j_console\" ] || ! [ -t 0 ] || { cssh_j_why='a terminal, and the instance has a /dev of its own'; return 2; }\n");
    s.raw("  cssh_session_plain || { cssh_j_why='the session sets a variable Apptainer reads (APPTAINER_*, SINGULARITY_*, PS1, PROMPT_COMMAND) or drops (a name that is not a shell name)'; return 2; }\n");
    s.raw("  cssh_jopen \"$cssh_j_pid\" && [ -O \"/proc/$cssh_j_pid\" ] && cssh_stat \"$cssh_j_pid\" && [ \"$cssh_start\" = \"$cssh_j_start\" ] && [ /dev/fd/5 -ef \"/proc/$cssh_j_pid/ns/mnt\" ] || { cssh_jclose; return 1; }\n}\n");
}

/// `cssh_session_plain`: false where the session exports a variable that Apptainer reads
/// (`APPTAINER*`, `SINGULARITY*`, `PS1`, `PROMPT_COMMAND`) or drops (a name that is not a shell
/// name). dash and its kind never pass such names on and `export -p` shows the rest, so one
/// `case` over it answers. bash does pass them on without showing them: its exported functions
/// (`BASH_FUNC_module%%`, Lmod's where `/bin/sh` is bash), which Apptainer keeps out of the
/// container, stop being exported here too; then each line of `env` is looked at for any other.
/// A value's own line that looks like one of these only sends the command through the runtime.
fn session_plain(s: &mut Script) {
    s.raw("cssh_session_plain() {\n  if [ -n \"${BASH_VERSION-}\" ]; then\n");
    s.raw("    cssh_jx=$(declare -Fx) || return 1\n    while read -r _ _ cssh_l; do [ -z \"$cssh_l\" ] || export -nf \"$cssh_l\"; done <<cssh_EOF\n$cssh_jx\ncssh_EOF\n");
    s.raw("    cssh_jx=$(env) || return 1; cssh_jp=\n  else cssh_jx=$(export -p) || return 1; cssh_jp='export '; fi\n");
    s.raw("  case \"\n$cssh_jx\" in *\"\n${cssh_jp}APPTAINER\"*|*\"\n${cssh_jp}SINGULARITY\"*|*\"\n${cssh_jp}PS1=\"*|*\"\n${cssh_jp}PROMPT_COMMAND=\"*) return 1 ;; esac\n");
    s.raw("  [ -z \"$cssh_jp\" ] || return 0\n  cssh_ifs=$IFS; IFS='\n'; set -f\n");
    s.raw("  for cssh_l in $cssh_jx; do case ${cssh_l%%=*} in ''|[0-9]*|*[!A-Za-z0-9_]*) IFS=$cssh_ifs; set +f; return 1 ;; esac; done\n");
    s.raw("  IFS=$cssh_ifs; set +f\n}\n");
}

/// `cssh_join_look NAME`: looks at the running instance once and writes the record (atomically:
/// another session may look at the same moment); true where the join can be taken.
fn look(s: &mut Script) {
    s.raw("cssh_join_look() {\n  cssh_jdir \"$1\"\n");
    s.raw("  cssh_jj=$(cat \"$cssh_jd/$1.json\" 2>/dev/null) || return 1\n");
    s.raw("  cssh_j_pid=${cssh_jj#'{\"pid\":'}; cssh_j_pid=${cssh_j_pid%%,*}; cssh_jp=${cssh_jj#*'\"ppid\":'}; cssh_jp=${cssh_jp%%,*}\n");
    s.raw("  case $cssh_j_pid:$cssh_jp in *[!0-9:]*|:*|*:) return 1 ;; esac\n");
    s.raw("  cssh_stat \"$cssh_j_pid\" && [ \"$cssh_ppid\" = \"$cssh_jp\" ] && [ -O \"/proc/$cssh_j_pid\" ] || return 1\n");
    s.raw("  cssh_j_start=$cssh_start; cssh_j_slow=; cssh_j_code=; cssh_j_console=\n");
    s.raw("  cssh_jcfg=${cssh_jj#*'\"config\":\"'}; cssh_jcfg=$(printf '%s' \"${cssh_jcfg%%'\"'*}\" | base64 -d 2>/dev/null)\n");
    s.raw("  cssh_jimg=${cssh_jj#*'\"image\":\"'}; cssh_jimg=${cssh_jimg%%'\"'*}\n");
    s.raw("  cssh_jhome=${cssh_jcfg#*'\"homeDest\":\"'}; cssh_jhome=${cssh_jhome%%'\"'*}\n");
    s.raw("  case $cssh_jcfg in *'\"container\":true'*|*'\"MountDev\":\"minimal\"'*) cssh_j_console=yes ;; esac\n");
    // Whatever the starter does for a joiner that a join by namespaces cannot: the first
    // reason found is kept.
    let reasons: &[(&str, &str)] = &[
        (
            "case $cssh_jj in *'\"userns\":true'*) false ;; esac",
            "it runs without a user namespace (setuid mode)",
        ),
        (
            "[ \"/proc/$cssh_j_pid/ns/user\" -ef /proc/self/ns/user ]",
            "it runs without a user namespace (setuid mode)",
        ),
        (
            "case $cssh_jj in *'\"cgroup\":true'*) ;; *) false ;; esac",
            "it has cgroup limits",
        ),
        (
            "case $cssh_jj in *'\"checkpoint\":\"\"'*) false ;; esac",
            "it is checkpointed",
        ),
        (
            "case $cssh_jcfg in *'\"engineConfig\"'*) false ;; esac",
            "its state file could not be read",
        ),
        (
            "case $cssh_jcfg in *'\"seccomp\"'*|*'\"apparmorProfile\"'*|*'\"selinuxLabel\"'*) ;; *) false ;; esac",
            "it has seccomp, AppArmor or SELinux settings",
        ),
        (
            "case $cssh_jcfg in *'\"fakeroot\":true'*) ;; *) false ;; esac",
            "it runs with --fakeroot",
        ),
        (
            "case $cssh_jcfg in *'\"capabilities\":{\"'*) ;; *) false ;; esac",
            "it has capabilities",
        ),
        (
            "case $cssh_jimg:$cssh_jhome in *\\\\*|[!/]*|*:[!/]*) ;; *) false ;; esac",
            "its state file holds an image path or home it cannot use",
        ),
        (
            "for cssh_l in cgroup time; do [ -e \"/proc/self/ns/$cssh_l\" ] && ! [ \"/proc/$cssh_j_pid/ns/$cssh_l\" -ef \"/proc/self/ns/$cssh_l\" ] && break; cssh_l=; done; [ -n \"$cssh_l\" ]",
            "it has a cgroup or time namespace of its own",
        ),
        (
            "! cssh_j_nsenter=$(command -v nsenter) || ! cssh_j_setpriv=$(command -v setpriv)",
            "no nsenter or setpriv (util-linux) on the host",
        ),
        (
            "! \"$cssh_j_nsenter\" --help 2>&1 | grep -q -e --preserve-credentials",
            "nsenter cannot keep the credentials in a user namespace (util-linux 2.26 or later can)",
        ),
    ];
    for (test, reason) in reasons {
        s.raw(&format!(
            "  [ -n \"$cssh_j_slow\" ] || ! {{ {test}; }} || cssh_j_slow='{reason}'\n"
        ));
    }
    // The environment the instance fixes, built inside it by the image's sh (a process of its
    // own, which changes nothing here) and kept as text for the image's sh of each command. What
    // the scripts print, on stdout or stderr, goes to a file of its own: Apptainer shows it.
    s.raw("  cssh_um=$(umask); umask 077\n  if [ -z \"$cssh_j_slow\" ]; then\n    cssh_jopen \"$cssh_j_pid\" || { cssh_jclose; umask \"$cssh_um\"; return 1; }\n");
    s.raw("    cssh_j_code=$(env -i HOME=\"$cssh_jhome\" PWD=/ SINGULARITY_APPNAME= APPTAINER_NAME=\"${cssh_jimg##*/}\" APPTAINER_CONTAINER=\"$cssh_jimg\" APPTAINER_INSTANCE=\"$1\" \"$cssh_j_setpriv\" --no-new-privs \"$cssh_j_nsenter\" $cssh_jns --preserve-credentials /bin/sh -c");
    s.word(&environment_builder());
    s.raw(" sh \"$1\" </dev/null 2>\"$cssh_jc.$$.said\") || { cssh_j_code=; cssh_j_slow='the image'\\''s environment scripts failed in sh'; }\n    cssh_jclose\n");
    s.raw("    [ -n \"$cssh_j_slow\" ] || ! [ -s \"$cssh_jc.$$.said\" ] || { cssh_j_code=; cssh_j_slow='the image'\\''s environment scripts print something, which Apptainer shows'; }\n");
    s.raw(&format!(
        "    [ -n \"$cssh_j_slow\" ] || [ ${{#cssh_j_code}} -le {MAX_CODE} ] || {{ cssh_j_code=; cssh_j_slow='its environment is larger than one variable may be'; }}\n    rm -f \"$cssh_jc.$$.said\"\n  fi\n"
    ));
    s.raw("  cssh_stat \"$cssh_j_pid\" && [ \"$cssh_start\" = \"$cssh_j_start\" ] || { umask \"$cssh_um\"; return 1; }\n");
    s.raw("  for cssh_l in cssh_j_pid cssh_j_start cssh_j_setpriv cssh_j_nsenter cssh_j_slow cssh_j_console cssh_j_code; do eval \"cssh_q \\\"\\${$cssh_l-}\\\"\"; printf '%s=%s\\n' \"$cssh_l\" \"$cssh_qv\"; done >\"$cssh_jc.$$\" 2>/dev/null && mv -f \"$cssh_jc.$$\" \"$cssh_jc\" 2>/dev/null || { rm -f \"$cssh_jc.$$\"; umask \"$cssh_um\"; return 1; }\n");
    s.raw("  umask \"$cssh_um\"\n");
    s.raw("  [ -z \"$cssh_j_slow\" ]\n}\n");
}

/// `cssh_names`, inside the instance: the names of the exported variables, from `export -p`
/// (every sh prints `export NAME...` lines; a value's own lines are checked against the
/// variables that are set); false where one is not a shell name.
fn names(s: &mut Script) {
    s.raw("cssh_names() {\n  cssh_names=; cssh_jx=$(export -p) || return 1\n  cssh_ifs=$IFS; IFS='\n'; set -f\n");
    s.raw("  for cssh_l in $cssh_jx; do\n    case $cssh_l in 'export '*) cssh_l=${cssh_l#export }; cssh_l=${cssh_l%%=*} ;; *) continue ;; esac\n");
    s.raw(
        "    case $cssh_l in ''|[0-9]*|*[!A-Za-z0-9_]*) IFS=$cssh_ifs; set +f; return 1 ;; esac\n",
    );
    s.raw("    eval \"[ -n \\\"\\${$cssh_l+x}\\\" ]\" && cssh_names=\"$cssh_names $cssh_l\"\n  done\n  IFS=$cssh_ifs; set +f\n}\n");
}

/// The image's sh, inside the instance, with only the variables Apptainer keeps while sourcing
/// (HOME, PWD, SINGULARITY_APPNAME and the read-only APPTAINER_NAME, _CONTAINER and
/// _INSTANCE): Apptainer's action script for `exec`, emulated with builtins (the image may have
/// nothing else), printing for the record `cssh_j_empty`, the variables the image's scripts set
/// empty, and `cssh_j_env`, which exports the instance's part of the environment.
fn environment_builder() -> Vec<u8> {
    let mut s = Script::default();
    names(&mut s);
    define_quote(&mut s);
    s.raw("cssh_i=$1; set --; cssh_home=$HOME\nreadonly APPTAINER_NAME APPTAINER_CONTAINER APPTAINER_INSTANCE\nunset PS1 SHLVL\ncd \"$HOME\" 2>/dev/null\n");
    // Apptainer's fixpath: the default directories PATH lacks, appended.
    s.raw(&format!(
        "cssh_fix() {{\n  cssh_p=${{PATH-}}\n  for cssh_d in {}; do case :$cssh_p: in *:\"$cssh_d\":*) ;; *) cssh_p=${{cssh_p:+$cssh_p:}}$cssh_d ;; esac; done\n  PATH=$cssh_p; export PATH\n}}\n",
        DEFAULT_PATH.replace(':', " ")
    ));
    s.raw(&format!(
        "cssh_default() {{ [ -n \"${{PATH+x}}\" ] || {{ PATH={DEFAULT_PATH}; export PATH; }}; }}\n"
    ));
    s.raw("if [ -d /.singularity.d/env ]; then\n  for cssh_f in /.singularity.d/env/*.sh; do\n    [ -f \"$cssh_f\" ] || continue\n    case $cssh_f in\n");
    s.raw("    /.singularity.d/env/90-environment.sh) [ -n \"${PATH+x}\" ] || cssh_fix; . \"$cssh_f\" >&2 ;;\n");
    s.raw("    /.singularity.d/env/10-docker2singularity.sh|/.singularity.d/env/10-docker.sh) . \"$cssh_f\" >&2; cssh_fix ;;\n");
    // After 99-base.sh come the runtime's overrides, of which a session with no APPTAINERENV_
    // variables has only the default PATH; 99-runtimevars.sh is the runtime's own text, which
    // without those variables only exports PATH.
    s.raw("    /.singularity.d/env/99-base.sh) . \"$cssh_f\" >&2; cssh_default ;;\n");
    s.raw("    /.singularity.d/env/99-runtimevars.sh) export PATH ;;\n    *) . \"$cssh_f\" >&2 ;;\n    esac\n  done\n");
    s.raw("else\n  [ -f /environment ] && { . /environment >&2; cssh_fix; }\n  cssh_default\nfi\n");
    // What the scripts set empty, then the runtime's own variables restored where the scripts
    // unset them, and unset where they left them empty.
    s.raw("cssh_names || exit 1\ncssh_e=\nfor cssh_l in $cssh_names; do eval \"[ -n \\\"\\${$cssh_l}\\\" ]\" || cssh_e=\"$cssh_e $cssh_l\"; done\n");
    s.raw("cssh_keep() { if eval \"[ -z \\\"\\${$1+x}\\\" ]\"; then export \"$1=$2\"; elif eval \"[ -z \\\"\\${$1}\\\" ]\"; then unset \"$1\"; fi; }\n");
    for (name, value) in [
        ("APPTAINER_CONTAINER", "$APPTAINER_CONTAINER"),
        ("SINGULARITY_CONTAINER", "$APPTAINER_CONTAINER"),
        ("APPTAINER_NAME", "$APPTAINER_NAME"),
        ("SINGULARITY_NAME", "$APPTAINER_NAME"),
        ("APPTAINER_BIND", ""),
        ("SINGULARITY_BIND", ""),
        ("APPTAINER_INSTANCE", "$cssh_i"),
        ("SINGULARITY_INSTANCE", "$cssh_i"),
        ("HOME", "$cssh_home"),
        ("PATH", DEFAULT_PATH),
        ("APPTAINER_APPNAME", ""),
        ("SINGULARITY_APPNAME", ""),
        ("APPTAINER_COMMAND", "exec"),
    ] {
        s.raw(&format!("cssh_keep {name} \"{value}\"\n"));
    }
    s.raw("[ -n \"${PS1:-}\" ] || { PS1='Apptainer> '; export PS1; }\n");
    s.raw("if [ -z \"${PROMPT_COMMAND:-}\" ]; then PROMPT_COMMAND=\"PS1=\\\"${PS1}\\\"; unset PROMPT_COMMAND\"; else PROMPT_COMMAND=\"${PROMPT_COMMAND}; PROMPT_COMMAND=\\\"\\${PROMPT_COMMAND%%; PROMPT_COMMAND=*}\\\"; PS1=\\\"${PS1}\\\"\"; fi; export PROMPT_COMMAND\n");
    s.raw("APPTAINER_ENVIRONMENT=${APPTAINER_ENVIRONMENT:-/.singularity.d/env/91-environment.sh}; SINGULARITY_ENVIRONMENT=$APPTAINER_ENVIRONMENT; export APPTAINER_ENVIRONMENT SINGULARITY_ENVIRONMENT\n");
    // The record: PWD and OLDPWD are the session's; USER_PATH is the session's unless the
    // scripts set it.
    s.raw("cssh_names || exit 1\nprintf \"cssh_j_empty='%s '\\ncssh_j_env() {\\n\" \"$cssh_e\"\n");
    s.raw("for cssh_l in $cssh_names; do\n  eval \"cssh_v=\\${$cssh_l}\"\n  case $cssh_l in PWD|OLDPWD|_) continue ;; USER_PATH) [ -n \"$cssh_v\" ] || continue ;; esac\n");
    s.raw("  cssh_q \"$cssh_v\"; printf '  export %s=%s\\n' \"$cssh_l\" \"$cssh_qv\"\ndone\n");
    s.raw("case \"$cssh_e \" in *' USER_PATH '*) printf '  unset USER_PATH\\n' ;; esac\nprintf '  :\\n}\\n'\n");
    s.text
}
