//! What a newcomer reads and runs: man pages, shell completions, --help and the README's
//! commands.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const BINARIES: [(&str, &str); 4] = [
    ("cssh", env!("CARGO_BIN_EXE_cssh")),
    ("cscp", env!("CARGO_BIN_EXE_cscp")),
    ("csftp", env!("CARGO_BIN_EXE_csftp")),
    ("crsync", env!("CARGO_BIN_EXE_crsync")),
];

/// A PATH with the freshly built binaries first.
fn path_with_binaries() -> String {
    format!(
        "{}:{}",
        Path::new(CSSH).parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    )
}

#[test]
fn man_pages_pass_mandoc_lint_and_render() {
    let pages = ["cssh.1", "cscp.1", "csftp.1", "crsync.1", "cssh-config.5"];
    for page in pages {
        let path = repo(&format!("man/{page}"));
        let lint = run(Command::new("mandoc").arg("-Tlint").arg(&path));
        assert!(
            lint.status.success() && lint.stdout.is_empty(),
            "{page}: {}",
            describe(&lint)
        );
        let render = run(Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0"));
        assert!(render.status.success(), "{page}: {}", describe(&render));
        assert_eq!(text(&render.stderr), "", "{page} renders without warnings");
        // Bold and underline come as overstrikes (`N\x08N`): read the page as a terminal shows it.
        let mut shown = Vec::new();
        for &b in &render.stdout {
            if b == 8 {
                shown.pop();
            } else {
                shown.push(b);
            }
        }
        assert!(
            text(&shown).contains("\nNAME\n"),
            "{page}: {}",
            text(&shown)
        );
    }
    let mut listed: Vec<String> = std::fs::read_dir(repo("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = pages.iter().map(std::string::ToString::to_string).collect();
    expected.sort();
    assert_eq!(listed, expected, "every page is linted");
}

#[test]
fn completions_pass_their_shells_syntax_checks() {
    let check = |shell: &str, flag: &str, file: &str| {
        let out = run(Command::new(shell)
            .arg(flag)
            .arg(repo(&format!("completions/{file}"))));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{shell} {file}: {}",
            describe(&out)
        );
    };
    check("bash", "-n", "cssh.bash");
    check("zsh", "-n", "_cssh");
    for (name, _) in BINARIES {
        check("fish", "--no-execute", &format!("{name}.fish"));
    }
}

#[test]
fn bash_completes_a_configured_host_and_keeps_sshs_own_completion() {
    let config = Scratch::new("[[host]]\npattern = \"cssh-demo-node7 gpu?\"\nimage = \"/i.sif\"\n");
    let socket = format!("cssh-e2e-completion-{}", std::process::id());
    let tmux = |args: &[&str]| run(Command::new("tmux").arg("-L").arg(&socket).args(args));
    let start = tmux(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        "env",
        "-i",
        &format!("PATH={}", path_with_binaries()),
        &format!("CSSH_CONFIG={}", config.path("config.toml").display()),
        "HOME=/nonexistent",
        "TERM=xterm",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    assert!(start.status.success(), "{}", describe(&start));
    let screen = || text(&tmux(&["capture-pane", "-p", "-J"]).stdout);
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !screen().contains(what) {
            assert!(
                Instant::now() < deadline,
                "waited for {what:?}:\n{}",
                screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let setup = format!(
        "source /usr/share/bash-completion/bash_completion; source {}; echo READY",
        repo("completions/cssh.bash").display()
    );
    tmux(&["send-keys", "-l", &setup]);
    tmux(&["send-keys", "Enter"]);
    wait_for("\nREADY");
    // A host from cssh's configuration, completed by a real bash on Tab.
    tmux(&["send-keys", "-l", "cssh cssh-demo-n"]);
    tmux(&["send-keys", "Tab"]);
    wait_for("cssh cssh-demo-node7 ");
    tmux(&["send-keys", "C-u"]);
    // ssh's own option completion still answers through cssh.
    tmux(&["send-keys", "-l", "cssh -o ConnectTi"]);
    tmux(&["send-keys", "Tab"]);
    wait_for("cssh -o ConnectTimeout=");
    tmux(&["send-keys", "C-u"]);
    tmux(&["send-keys", "-l", "cscp cssh-demo-no"]);
    tmux(&["send-keys", "Tab"]);
    wait_for("cscp cssh-demo-node7:");
    tmux(&["kill-server"]);
}

#[test]
fn fish_completes_configured_hosts() {
    let config = Scratch::new("[[host]]\npattern = \"cssh-demo-node7\"\nimage = \"/i.sif\"\n");
    for (name, suffix) in [("cssh", ""), ("cscp", ":"), ("csftp", ""), ("crsync", ":")] {
        let script = format!(
            "source {}; complete -C '{name} cssh-demo-n'",
            repo(&format!("completions/{name}.fish")).display()
        );
        let out = run(Command::new("fish")
            .args(["--no-config", "-c", &script])
            .env("PATH", path_with_binaries())
            .env("CSSH_CONFIG", config.path("config.toml")));
        assert!(
            text(&out.stdout).starts_with(&format!("cssh-demo-node7{suffix}\t")),
            "{name}: {}",
            describe(&out)
        );
    }
}

#[test]
fn every_binary_has_help_and_version() {
    for (name, path) in BINARIES {
        let help = run(Command::new(path).arg("--help"));
        let help_text = text(&help.stdout);
        assert!(help.status.success(), "{name}");
        assert!(
            help_text.contains(&format!("{name}(1)")),
            "{name} points to its man page: {help_text}"
        );
        let own = if name == "cssh" {
            "--dry-run"
        } else {
            "--cssh-dry-run"
        };
        assert!(help_text.contains(own), "{name} lists its own options");
        let version = run(Command::new(path).arg("--version"));
        assert_eq!(
            text(&version.stdout),
            format!("{name} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn the_readme_test_command_is_what_ci_runs() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    assert!(
        readme.contains("\ntests/check\n"),
        "README names the test command"
    );
    let ci = std::fs::read_to_string(repo(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "exec tests/check"),
        ".ci/run calls it"
    );
}

/// The first fenced block after `heading` in the README.
fn readme_block(heading: &str, fence: &str) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find(&format!("```{fence}\n")).unwrap() + fence.len() + 4;
    section[start..start + section[start..].find("```").unwrap()].to_string()
}

#[test]
fn the_readme_install_block_installs_pages_and_completions() {
    let home = Scratch::new("");
    // `cargo install` is the one line left out: it builds what these tests already run.
    let block = readme_block("## Install", "sh").replace("cargo install --path .", ":");
    let out = run(Command::new("bash")
        .args(["-euc", &block])
        .current_dir(repo(""))
        .env("HOME", &home.dir));
    assert!(out.status.success(), "{}", describe(&out));
    for installed in [
        ".local/share/man/man1/cssh.1",
        ".local/share/man/man1/crsync.1",
        ".local/share/man/man5/cssh-config.5",
        ".local/share/bash-completion/completions/cscp",
        ".zsh/completions/_cssh",
        ".config/fish/completions/csftp.fish",
    ] {
        assert!(home.dir.join(installed).is_file(), "{installed}");
    }
}

#[test]
fn the_readme_configuration_example_is_valid() {
    let example = Scratch::new(&readme_block("## Configuration", "toml"));
    let out = run(Command::new(CSSH)
        .arg("--config")
        .arg(example.path("config.toml"))
        .arg("--list-hosts"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "hpc-gateway\n");
    let explain = run(Command::new(CSSH)
        .arg("--config")
        .arg(example.path("config.toml"))
        .args(["--explain", "hpc-7", "make"]));
    assert!(
        text(&explain.stdout).contains("--bind /scratch --bind /data:/mnt/data:ro"),
        "{}",
        describe(&explain)
    );
}

/// cssh's own options as the table declares them: (name, takes a value).
fn table() -> Vec<(String, bool)> {
    let mut options: Vec<(String, bool)> = cssh::options::OWN_OPTIONS
        .iter()
        .map(|o| (o.name.to_string(), o.value.is_some()))
        .collect();
    options.sort();
    options
}

#[test]
fn the_man_page_lists_the_options_of_the_table() {
    let page = std::fs::read_to_string(repo("man/cssh.1")).unwrap();
    let section = &page[page.find(".SH OPTIONS").unwrap()..];
    let section = &section[..section[1..].find("\n.SH ").unwrap()];
    let mut listed: Vec<(String, bool)> = section
        .split(".TP\n")
        .skip(1)
        .map(|item| {
            let heading = item.lines().next().unwrap();
            let (macro_name, rest) = heading.split_once(' ').unwrap();
            let name = rest.split(' ').next().unwrap().replace('\\', "");
            (name, macro_name == ".BI")
        })
        .collect();
    listed.sort();
    assert_eq!(listed, table());
}

#[test]
fn the_completions_offer_the_options_of_the_table() {
    let names: Vec<String> = table().into_iter().map(|(name, _)| name).collect();
    let words = |line: &str| {
        let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
        words.sort();
        words
    };
    let bash = std::fs::read_to_string(repo("completions/cssh.bash")).unwrap();
    let bash_own = bash
        .lines()
        .find_map(|l| l.trim().strip_prefix("cssh) real=ssh own='"))
        .unwrap();
    assert_eq!(words(bash_own.split('\'').next().unwrap()), names, "bash");
    let zsh = std::fs::read_to_string(repo("completions/_cssh")).unwrap();
    let zsh_own = zsh
        .lines()
        .find_map(|l| l.trim().strip_prefix("own=(--config"))
        .map(|rest| format!("--config{}", rest.trim_end_matches(')')))
        .unwrap();
    assert_eq!(words(&zsh_own), names, "zsh");
    let fish = std::fs::read_to_string(repo("completions/cssh.fish")).unwrap();
    let mut fish_own: Vec<(String, bool)> = fish
        .lines()
        .filter_map(|l| l.strip_prefix("complete -c cssh -l "))
        .map(|rest| {
            let name = rest.split(' ').next().unwrap();
            (format!("--{name}"), rest.contains(" -r "))
        })
        .collect();
    fish_own.sort();
    assert_eq!(fish_own, table(), "fish");
    // bash skips the value of the options that take one when it looks for the destination.
    for (name, _) in table().into_iter().filter(|(_, value)| *value) {
        assert!(
            bash.contains(&format!("$word == {name}")),
            "bash skips {name}'s value"
        );
    }
}

#[test]
fn the_readme_link_block_puts_the_wrappers_under_the_clients_names() {
    let home = Scratch::new("");
    let block = readme_block("For tools that run plain", "sh");
    let out = run(Command::new("bash")
        .args(["-euc", &block])
        .env("HOME", &home.dir)
        .env("PATH", path_with_binaries()));
    assert!(out.status.success(), "{}", describe(&out));
    for (name, wrapper) in [("scp", "cscp"), ("sftp", "csftp"), ("rsync", "crsync")] {
        let link = std::fs::canonicalize(home.dir.join(".local/cssh-bin").join(name)).unwrap();
        assert_eq!(link.file_name().unwrap(), wrapper, "{name}");
    }
}
