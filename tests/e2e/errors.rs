//! Every error path the README's "Exit status" table documents, in one table against the test
//! host: stderr is one `cssh:` line (after the runtime's own error line where that is the
//! cause, or that line alone where the runtime itself refuses), stdout is empty, and the exit
//! status is the documented one. The paths that need a job to change state while a session
//! waits (an allocation or HTCondor job that ends, is held or removed) are driven by their own
//! tests in slurm.rs and htcondor.rs, which check the same line and status.

use std::process::{Command, Output, Stdio};

use crate::harness::*;

/// How a case's stderr is checked.
enum Said {
    /// Exactly these lines.
    Exactly(String),
    /// One line that starts so (the rest is a scheduler's own words).
    OneLineFrom(String),
}

struct Case {
    what: &'static str,
    out: Output,
    status: i32,
    said: Said,
}

/// cssh with `config` and no standard input, against the test host.
fn cssh_run(config: &Scratch, args: &[&str]) -> Output {
    let mut command = cssh(config);
    run(command.args(args).stdin(Stdio::null()))
}

/// A configuration tagging every test host with the full image and `extra`, and its file.
fn with(extra: &str) -> (Scratch, String) {
    let config = tagging(FULL_SIF, extra);
    let file = config.path("config.toml").display().to_string();
    (config, file)
}

/// Submits nothing: each scheduler refuses at once.
fn scheduler_cases() -> Vec<Case> {
    let slurm = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\nslurm = [\"--partition=nosuch\"]\n"
    ));
    let condor = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\nhtcondor = [\"universe = nosuch\"]\n"
    ));
    let attach = Scratch::new(&format!(
        "[[host]]\npattern = \"th-*\"\nimage = \"{FULL_SIF}\"\nattach = \"999999\"\n"
    ));
    let slurm_alias = format!("th-refused-{}", rand_suffix());
    let condor_alias = format!("th-refused-{}", rand_suffix());
    vec![
        Case {
            what: "sbatch refuses the allocation",
            out: cssh_run(&slurm, &["-l", "tcshuser", &slurm_alias, "true"]),
            status: 255,
            said: Said::Exactly(format!(
                "cssh: {slurm_alias}: sbatch refused the allocation (slurm = [\"--partition=nosuch\"] in {}:4): Batch job submission failed: Invalid partition name specified\n",
                slurm.path("config.toml").display()
            )),
        },
        Case {
            what: "condor_submit refuses the job",
            out: cssh_run(&condor, &["-l", "fishuser", &condor_alias, "true"]),
            status: 255,
            said: Said::OneLineFrom(format!(
                "cssh: {condor_alias}: condor_submit refused the job (htcondor in {}:4): ",
                condor.path("config.toml").display()
            )),
        },
        Case {
            what: "a job attach cannot enter",
            out: cssh_run(&attach, &["th-bash", "true"]),
            status: 255,
            said: Said::Exactly(
                "cssh: th-bash: job 999999: slurm_load_jobs error: Invalid job id specified (cssh --attach list th-bash lists your running jobs)\n"
                    .into(),
            ),
        },
    ]
}

#[test]
fn every_documented_error_is_one_line_and_its_status() {
    let host = host();
    let (bad_key, bad_key_file) = with("colour = \"red\"");
    let plain = tagging(FULL_SIF, "");
    let (prelude, prelude_file) = with("prelude = \"false\"");
    let (options, options_file) = with("options = [\"--bogus-opt\"]");
    let (runtime, runtime_file) = with("runtime = \"modtainer\"");
    let (binds, binds_file) = with("binds = [\"/nonexistent/src:/data\"]");
    let no_image = tagging("/opt/th/no such.sif", "");
    let unreadable_image = tagging("/etc/hostname", "");
    let bare = tagging(BARE_SIF, "");
    let bare_file = bare.path("config.toml").display().to_string();
    let no_ssh = run(Command::new(CSSH)
        .env("CSSH_CONFIG", plain.path("config.toml"))
        .env("CSSH_SSH", "/nope/ssh")
        .arg("-F")
        .arg(&host.ssh_config)
        .args(["th-bash", "true"])
        .stdin(Stdio::null()));
    let unknown_option = run(Command::new(CSSH)
        .env("CSSH_CONFIG", plain.path("config.toml"))
        .args(["--frob", "-F"])
        .arg(&host.ssh_config)
        .args(["th-bash", "true"])
        .stdin(Stdio::null()));
    // An option's value that is ssh's option: refused at once, nothing runs (it once took `-p`
    // as the job and `2422` as the host, and hung).
    let own = |words: &[&str]| {
        run(Command::new(CSSH)
            .env("CSSH_CONFIG", plain.path("config.toml"))
            .args(words)
            .arg("-F")
            .arg(&host.ssh_config)
            .args(["th-bash", "true"])
            .stdin(Stdio::null()))
    };
    let attach_option = own(&["--attach", "-p", "2422"]);
    let image_option = own(&["--image"]);
    let misspelt = own(&["--atach", "42"]);
    let mut cases = vec![
        Case {
            what: "an option as --attach's value",
            out: attach_option,
            status: 255,
            said: Said::Exactly(
                "cssh: --attach needs a job: ID, ID.STEP, NAME or list (-p is an option)\n".into(),
            ),
        },
        Case {
            what: "an option as --image's value",
            out: image_option,
            status: 255,
            said: Said::Exactly(
                "cssh: --image needs an image: a path or URI on the remote (-F is an option)\n"
                    .into(),
            ),
        },
        Case {
            what: "a misspelt cssh option",
            out: misspelt,
            status: 255,
            said: Said::Exactly("cssh: unknown option --atach (did you mean --attach?)\n".into()),
        },
        Case {
            what: "a configuration with an unknown key",
            out: cssh_run(&bad_key, &["th-bash", "true"]),
            status: 255,
            said: Said::Exactly(format!(
                "cssh: {bad_key_file}:4:1: unknown key `colour` (known keys: pattern, image, runtime, prelude, binds, env, forward_env, options, shell, sftp_server, instance, persist, slurm, slurm_idle, slurm_connect, slurm_transfers, htcondor, htcondor_connect, attach)\n"
            )),
        },
        Case {
            what: "an unknown cssh option",
            out: unknown_option,
            status: 255,
            said: Said::Exactly(
                "cssh: unknown option --frob (cssh's options come before ssh's; see cssh --help)\n"
                    .into(),
            ),
        },
        Case {
            what: "no ssh",
            out: no_ssh,
            status: 255,
            said: Said::Exactly(
                "cssh: CSSH_SSH=/nope/ssh: no such program (set it to the path of ssh, or unset it)\n"
                    .into(),
            ),
        },
        Case {
            what: "a refused host name",
            out: cssh_run(&plain, &["--", "th-bash;id", "true"]),
            status: 255,
            said: Said::Exactly(
                "cssh: refusing host name \"th-bash;id\": it holds a shell metacharacter, a space or a control character\n"
                    .into(),
            ),
        },
        Case {
            what: "a prelude that fails",
            out: cssh_run(&prelude, &["th-tcsh", "echo RAN"]),
            status: 255,
            said: Said::Exactly(format!(
                "cssh: th-tcsh: the prelude ({prelude_file}:4) failed with status 1\n"
            )),
        },
        Case {
            what: "options the runtime does not know",
            out: cssh_run(&options, &["th-fish", "echo RAN"]),
            status: 255,
            said: Said::Exactly(format!(
                "Error for command \"exec\": unknown flag: --bogus-opt\ncssh: th-fish: the runtime refuses the options in {options_file}:4\n"
            )),
        },
        Case {
            what: "a container the runtime cannot create",
            out: cssh_run(&unreadable_image, &["th-bash", "echo RAN"]),
            status: 255,
            said: Said::Exactly(
                "FATAL:   While checking container encryption: could not open image /etc/hostname: image format not recognized\n"
                    .into(),
            ),
        },
        Case {
            what: "no runtime on PATH",
            out: cssh_run(&runtime, &["th-zsh", "echo RAN"]),
            status: 127,
            said: Said::Exactly(format!(
                "cssh: th-zsh: modtainer not on PATH (set prelude or runtime in {runtime_file})\n"
            )),
        },
        Case {
            what: "no image",
            out: cssh_run(&no_image, &["th-csh", "echo RAN"]),
            status: 127,
            said: Said::Exactly(
                "cssh: th-csh: image /opt/th/no such.sif not found on the remote\n".into(),
            ),
        },
        Case {
            what: "a bind's source missing",
            out: cssh_run(&binds, &["th-dash", "echo RAN"]),
            status: 127,
            said: Said::Exactly(format!(
                "cssh: th-dash: bind source /nonexistent/src is not on the remote (binds in {binds_file}:4)\n"
            )),
        },
        Case {
            what: "no sftp-server in the image",
            out: cssh_run(&bare, &["-s", "th-sh", "sftp"]),
            status: 127,
            said: Said::Exactly(format!(
                "cssh: th-sh: no sftp-server in {BARE_SIF} (set sftp_server in {bare_file}, or use scp -O)\n"
            )),
        },
    ];
    cases.extend(scheduler_cases());
    let mut wrong = Vec::new();
    for case in &cases {
        let stderr = said(&case.out.stderr);
        let said = match &case.said {
            Said::Exactly(lines) => stderr == *lines,
            Said::OneLineFrom(start) => stderr.starts_with(start) && stderr.lines().count() == 1,
        };
        if case.out.status.code() != Some(case.status) || !said || !case.out.stdout.is_empty() {
            wrong.push(format!(
                "{} (expected status {}): {}",
                case.what,
                case.status,
                describe(&case.out)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
