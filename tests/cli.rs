//! The CLI as a tool to install (issue #22): shell completions and manual
//! pages from the clap definitions, and one spelling, `-o/--out`, for the
//! file every command writes.

mod common;

fn stdout(args: &[&str]) -> String {
    String::from_utf8(common::logsieve_ok(args).stdout).unwrap()
}

const COMMANDS: [&str; 12] = [
    "train",
    "evaluate",
    "assemble",
    "validate",
    "run",
    "inspect",
    "report",
    "similar",
    "fluent-bit",
    "completions",
    "man",
    "component",
];

#[test]
fn completions_name_every_command_in_each_shell() {
    let bash = stdout(&["completions", "bash"]);
    assert!(bash.contains("complete -F _logsieve"), "{}", &bash[..200.min(bash.len())]);
    for c in COMMANDS {
        assert!(bash.contains(c), "bash completion lacks {c}");
    }
    assert!(bash.contains("--summary-json") && bash.contains("--stats-interval"), "run's options");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let text = stdout(&["completions", shell]);
        assert!(text.contains("fluent-bit") && text.contains("summary-json"), "{shell}");
    }
    let bad = common::logsieve(&["completions", "tcsh"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"), "the shells are listed");
}

#[test]
fn man_pages_are_written_for_every_command() {
    let page = stdout(&["man"]);
    assert!(page.starts_with(".ie") || page.contains(".TH logsieve 1"), "{}", &page[..200.min(page.len())]);
    let dir = common::tempdir("cli-man");
    let out = dir.join("man1");
    common::logsieve_ok(&["man", "-o", out.to_str().unwrap()]);
    assert!(out.join("logsieve.1").is_file());
    for c in COMMANDS {
        let p = out.join(format!("logsieve-{c}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.contains(&format!(".TH logsieve-{c} 1")), "{}", p.display());
    }
    let run = std::fs::read_to_string(out.join("logsieve-run.1")).unwrap();
    assert!(run.contains("summary\\-json") && run.contains("stats\\-interval"), "run's options in its page");
}

#[test]
fn every_command_that_writes_a_file_takes_o_and_out() {
    for c in ["train", "evaluate", "assemble", "report", "fluent-bit", "component", "man"] {
        let help = stdout(&[c, "--help"]);
        assert!(help.contains("-o, --out <"), "{c} --help:\n{help}");
        assert!(help.contains("[alias: --output]"), "{c}: the old spelling still works:\n{help}");
    }
}

#[test]
fn every_commands_help_ends_with_an_example() {
    for c in COMMANDS {
        let help = stdout(&[c, "--help"]);
        assert!(help.contains(&format!("Example:\n  logsieve {c} ")), "{c} --help:\n{help}");
    }
}
