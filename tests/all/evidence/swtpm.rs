//! A software TPM for tests: [`Swtpm::start`] runs `swtpm socket --tpm2` on
//! free loopback ports with a throw-away state directory and kills it on
//! drop; [`tpm2_tools_quote`] takes a quote with tpm2-tools against it.
//!
//! Self-contained (std and tempfile only) so any test binary can include it
//! with `#[path]`. A missing swtpm or tpm2-tools fails the test with a
//! pointer to tests/setup.sh: it is never silently skipped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Attempts at finding two free adjacent ports and starting swtpm on them.
const START_ATTEMPTS: usize = 8;
/// How long swtpm may take to listen on both ports.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

const SETUP_HINT: &str =
    "install it with tests/setup.sh (Debian: apt-get install swtpm swtpm-tools tpm2-tools)";

/// A running swtpm (TPM 2.0, already started up) that is killed on drop.
pub struct Swtpm {
    child: Child,
    port: u16,
    state: TempDir,
}

impl Swtpm {
    /// Starts swtpm on a free server port P (control port P+1), retrying on
    /// port conflicts, and returns once both ports accept connections.
    /// Panics if swtpm is not installed or never comes up.
    pub fn start() -> Swtpm {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let Some(port) = free_port_pair() else {
                continue;
            };
            match Self::start_on(port) {
                Ok(swtpm) => return swtpm,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "swtpm did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// The TCTI string for tss-esapi and tpm2-tools (`TPM2TOOLS_TCTI`).
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The server port (the control port is one above).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the TPM state (scratch files may go here too).
    pub fn dir(&self) -> &Path {
        self.state.path()
    }

    fn start_on(port: u16) -> Result<Swtpm, String> {
        let state = TempDir::new().map_err(|e| format!("tempdir: {e}"))?;
        let log = state.path().join("swtpm.log");
        let child = spawn_swtpm(state.path(), port, &log)?;
        let mut swtpm = Swtpm { child, port, state };
        match swtpm.wait_ready() {
            Ok(()) => Ok(swtpm),
            Err(why) => {
                let log = fs::read_to_string(&log).unwrap_or_default();
                Err(format!("port {port}: {why}; swtpm log: {log}"))
            }
        }
    }

    /// Waits until both ports accept, failing early if swtpm exits.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("swtpm exited with {status}"));
            }
            if accepts(self.port) && accepts(self.port + 1) {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        Err(format!("not listening after {READY_TIMEOUT:?}"))
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_swtpm(dir: &Path, port: u16, log: &Path) -> Result<Child, String> {
    let stderr = fs::File::create(log).map_err(|e| format!("log file: {e}"))?;
    let spawned = Command::new("swtpm")
        .arg("socket")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(format!("dir={}", dir.display()))
        .arg("--server")
        .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
        .args(["--flags", "not-need-init,startup-clear"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn();
    match spawned {
        Ok(child) => Ok(child),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("swtpm is not installed (not on PATH): {SETUP_HINT}")
        }
        Err(e) => Err(format!("spawning swtpm: {e}")),
    }
}

/// A port P from the OS such that P+1 was free too, both released again.
fn free_port_pair() -> Option<u16> {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    let port = first.local_addr().ok()?.port();
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, port.checked_add(1)?)).ok()?;
    drop((first, second));
    Some(port)
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// What tpm2-tools produced for one quote, in the entry's encodings except
/// base64 (left to the caller).
pub struct ToolsQuote {
    /// `tpm2_createak -f pem -u`: the AK as a PEM SubjectPublicKeyInfo.
    pub ak_pem: String,
    /// `tpm2_quote -m`: the marshalled TPMS_ATTEST.
    pub quote: Vec<u8>,
    /// `tpm2_quote -s` (default "tss" format): the marshalled TPMT_SIGNATURE.
    pub signature: Vec<u8>,
    /// From `tpm2_pcrread`: bank -> decimal index -> lowercase hex.
    pub pcrs: BTreeMap<String, BTreeMap<String, String>>,
}

/// Creates an EK and an AK with tpm2-tools and quotes `pcrs` (tpm2-tools
/// syntax, e.g. `sha1:0,1+sha256:0,7`) with `nonce_hex` as qualifying data.
/// `key` is `ecc` or `rsa`. Panics, with the tool's stderr, on any failure.
pub fn tpm2_tools_quote(tpm: &Swtpm, key: &str, nonce_hex: &str, pcrs: &str) -> ToolsQuote {
    let dir = tpm.dir().to_path_buf();
    let scheme = if key == "ecc" { "ecdsa" } else { "rsassa" };
    let tools = Tools {
        tcti: tpm.tcti(),
        dir: dir.clone(),
    };
    tools.run(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", key, "-u", "ek.pub"],
    );
    tools.flush();
    let ak_args = [
        "-C", "ek.ctx", "-c", "ak.ctx", "-G", key, "-g", "sha256", "-s", scheme,
    ];
    tools.run(
        "tpm2_createak",
        &[&ak_args[..], &["-f", "pem", "-u", "ak.pem"]].concat(),
    );
    tools.flush();
    let quote_args = ["-c", "ak.ctx", "-l", pcrs, "-q", nonce_hex, "-g", "sha256"];
    tools.run(
        "tpm2_quote",
        &[&quote_args[..], &["-m", "quote.msg", "-s", "quote.sig"]].concat(),
    );
    tools.flush();
    let pcr_text = tools.run("tpm2_pcrread", &[pcrs]);
    ToolsQuote {
        ak_pem: read_string(&dir.join("ak.pem")),
        quote: read_bytes(&dir.join("quote.msg")),
        signature: read_bytes(&dir.join("quote.sig")),
        pcrs: parse_pcrread(&String::from_utf8_lossy(&pcr_text.stdout)),
    }
}

struct Tools {
    tcti: String,
    dir: PathBuf,
}

impl Tools {
    /// Runs a tpm2-tools command in the scratch directory; panics on failure.
    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let out = Command::new(tool)
            .args(args)
            .current_dir(&self.dir)
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .output()
            .unwrap_or_else(|e| match e.kind() {
                ErrorKind::NotFound => panic!("{tool} is not installed: {SETUP_HINT}"),
                _ => panic!("running {tool}: {e}"),
            });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({}): {stderr}",
            out.status
        );
        out
    }

    /// Flushes transient objects and sessions: swtpm has only 3 object slots
    /// and tpm2-tools leaves objects loaded between commands.
    fn flush(&self) {
        self.run("tpm2_flushcontext", &["-t"]);
        self.run("tpm2_flushcontext", &["-s"]);
    }
}

/// Parses `tpm2_pcrread` output (`  sha256:` then `    7 : 0xABCD...`).
pub fn parse_pcrread(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut bank = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix(':') {
            bank = Some(name.to_owned());
        } else if let (Some(bank), Some((index, value))) = (&bank, line.split_once(" : ")) {
            let value = value.trim().trim_start_matches("0x").to_ascii_lowercase();
            out.entry(bank.clone())
                .or_default()
                .insert(index.trim().to_owned(), value);
        }
    }
    out
}

fn read_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_string(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
