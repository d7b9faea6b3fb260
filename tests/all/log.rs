//! `verdict log` and `verdict replay --checkpoint`: an auditor holding an
//! earlier checkpoint detects truncation and rewrites; one decision proves
//! itself.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cli::{code, stderr, stdout, verdict};
use crate::common::{feedback_policy_dir, root};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    log: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
    policies: PathBuf,
}

/// A key, a policy directory, and a log of `n` decisions made by
/// `verdict eval --log` (one write, one checkpoint each).
fn setup(n: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = verdict(&["keygen", "--out", path(&keys)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let policies = feedback_policy_dir(dir.path());
    let setup = Setup {
        log: dir.path().join("decisions.jsonl"),
        key: keys.join("decision-log.key"),
        pubkey: keys.join("decision-log.pub"),
        policies,
        dir,
    };
    for i in 0..n {
        eval(&setup, if i % 2 == 0 { "accept" } else { "reject" });
    }
    setup
}

fn eval(setup: &Setup, input: &str) -> std::process::Output {
    let example = |rel: &str| root().join("examples").join(rel).display().to_string();
    let out = verdict(&[
        "eval",
        "--policy",
        &root().join("policies/feedback.rego").display().to_string(),
        "--data",
        &example("feedback/data.json"),
        "--input",
        &example(&format!("feedback/{input}.json")),
        "--log",
        path(&setup.log),
        "--key",
        path(&setup.key),
    ]);
    assert!(code(&out) < 2, "{}", stderr(&out));
    out
}

/// `verdict log checkpoint`, saved to a file.
fn save_checkpoint(setup: &Setup, name: &str) -> PathBuf {
    let out = verdict(&[
        "log",
        "checkpoint",
        path(&setup.log),
        "--pubkey",
        path(&setup.pubkey),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let file = setup.dir.path().join(name);
    fs::write(&file, stdout(&out)).unwrap();
    file
}

fn replay(setup: &Setup, checkpoints: &[&Path]) -> std::process::Output {
    let mut args = vec![
        "replay",
        path(&setup.log),
        "--policies",
        path(&setup.policies),
        "--pubkey",
        path(&setup.pubkey),
    ];
    for checkpoint in checkpoints {
        args.extend(["--checkpoint", path(checkpoint)]);
    }
    verdict(&args)
}

#[test]
fn cutting_writes_off_the_end_is_caught_by_an_earlier_checkpoint() {
    let setup = setup(3);
    let published = save_checkpoint(&setup, "published.checkpoint");
    assert!(fs::read_to_string(&published).unwrap().contains("\n3\n"));

    let out = replay(&setup, &[&published]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("(signed)"), "{}", stdout(&out));

    // Cut the log back to its first record, and its checkpoints with it.
    let text = fs::read_to_string(&setup.log).unwrap();
    let first = text.split_inclusive('\n').next().unwrap();
    fs::write(&setup.log, first).unwrap();
    // Each checkpoint note is five lines (three of body, a blank line, one
    // signature): keep those of sizes 0 and 1.
    let checkpoints = format!("{}.checkpoints", setup.log.display());
    let notes = fs::read_to_string(&checkpoints).unwrap();
    let keep: String = notes.split_inclusive('\n').take(10).collect();
    assert!(keep.contains("\n1\n"), "{keep}");
    fs::write(&checkpoints, keep).unwrap();

    // Without the auditor's checkpoint the log looks fine ...
    let out = replay(&setup, &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // ... with it, replay refuses and names the sizes.
    let out = replay(&setup, &[&published]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the log holds 1 records, the checkpoint commits to 3"),
        "{}",
        stdout(&out)
    );
    let out = verdict(&[
        "log",
        "consistency",
        path(&setup.log),
        "--from",
        path(&published),
        "--pubkey",
        path(&setup.pubkey),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("records were cut off"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_decision_proves_itself_offline_and_a_tampered_proof_fails() {
    let setup = setup(3);
    let bundle = setup.dir.path().join("proof.json");
    let out = verdict(&[
        "log",
        "prove",
        path(&setup.log),
        "--seq",
        "1",
        "--pubkey",
        path(&setup.pubkey),
        "--out",
        path(&bundle),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let check = |file: &Path| {
        verdict(&[
            "log",
            "check-proof",
            path(file),
            "--pubkey",
            path(&setup.pubkey),
        ])
    };
    let out = check(&bundle);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("(seq 1, allow false)"),
        "{}",
        stdout(&out)
    );

    // The record inside the bundle edited: the proof no longer leads to
    // the signed root.
    let text = fs::read_to_string(&bundle).unwrap();
    let tampered = text.replacen(r#"\"allow\":false"#, r#"\"allow\":true"#, 1);
    assert_ne!(tampered, text);
    let forged = setup.dir.path().join("forged.json");
    fs::write(&forged, tampered).unwrap();
    let out = check(&forged);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("does not lead from leaf 1"),
        "{}",
        stdout(&out)
    );

    // Garbage is a failed check, not a crash.
    fs::write(&forged, "{}").unwrap();
    assert_eq!(code(&check(&forged)), 1);
}

#[test]
fn the_log_extends_an_earlier_checkpoint_until_it_is_rewritten() {
    let setup = setup(2);
    let earlier = save_checkpoint(&setup, "earlier.checkpoint");
    eval(&setup, "accept");
    let bundle = setup.dir.path().join("consistency.json");
    let out = verdict(&[
        "log",
        "consistency",
        path(&setup.log),
        "--from",
        path(&earlier),
        "--pubkey",
        path(&setup.pubkey),
        "--out",
        path(&bundle),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("size 3"), "{}", stdout(&out));
    let out = verdict(&[
        "log",
        "check-consistency",
        path(&bundle),
        "--pubkey",
        path(&setup.pubkey),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    // A fork: the log is rebuilt from scratch with the same key, so its
    // own chain, signatures and checkpoints all verify.
    fs::remove_file(&setup.log).unwrap();
    fs::remove_file(format!("{}.checkpoints", setup.log.display())).unwrap();
    for input in ["reject", "reject", "accept"] {
        eval(&setup, input);
    }
    let out = replay(&setup, &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let out = replay(&setup, &[&earlier]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("rewritten or forked"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_checkpoint_by_another_key_is_refused() {
    let ours = setup(1);
    let theirs = setup(1);
    let foreign = save_checkpoint(&theirs, "foreign.checkpoint");
    let out = replay(&ours, &[&foreign]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("FAIL checkpoint"), "{}", stdout(&out));
}
