//! Tests of the region sources: in memory, files and live processes.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Child, Command};

use super::super::snapshot::{CHUNK_SIZE, digest_bytes, digest_source};
use super::process::{ESRCH, proc_error, resolve};
use super::*;

fn id(text: &str) -> RegionId {
    text.parse().expect("valid id")
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write");
    file.flush().expect("flush");
    file
}

#[test]
fn region_ids_are_validated() {
    for good in ["a", "model.weights:0", "A-Z_0.9", &"x".repeat(128)] {
        assert_eq!(good.parse::<RegionId>().expect(good).as_str(), good);
    }
    for bad in ["", "a b", "é", "a/b", &"x".repeat(129)] {
        assert!(bad.parse::<RegionId>().is_err(), "{bad}");
        assert!(
            serde_json::from_str::<RegionId>(&format!("{bad:?}")).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn protection_text_is_strict() {
    for good in ["r--", "rw-", "r-x", "rwx", "---", "-w-", "--x"] {
        assert_eq!(good.parse::<Protection>().expect(good).to_string(), good);
    }
    for bad in ["", "r-", "rwxp", "R--", "xwr", "r- ", "rw-p"] {
        assert!(bad.parse::<Protection>().is_err(), "{bad}");
    }
    assert_eq!("r-x".parse(), Ok(Protection::READ_EXECUTE));
}

#[test]
fn region_serde_round_trips_and_rejects_unknown_fields() {
    let region = Region {
        id: id("heap"),
        description: "d".into(),
        address: 0x7fff_0000,
        size: 9,
        protection: Protection::READ_WRITE,
    };
    let json = serde_json::to_string(&region).expect("serialize");
    assert_eq!(
        json,
        r#"{"id":"heap","description":"d","address":2147418112,"size":9,"protection":"rw-"}"#
    );
    assert_eq!(
        serde_json::from_str::<Region>(&json).expect("deserialize"),
        region
    );
    let extra = json.replace("\"size\"", "\"extra\":1,\"size\"");
    assert!(serde_json::from_str::<Region>(&extra).is_err());
    assert!(serde_json::from_str::<Region>(&json.replace("rw-", "rw-p")).is_err());
}

#[test]
fn in_memory_reads_are_bounded() {
    let source =
        InMemory::new(id("m"), "m", vec![1, 2, 3], Protection::READ_ONLY).with_address(0x1000);
    assert_eq!(source.region().address, 0x1000);
    let mut buf = [0; 2];
    source.read_at(1, &mut buf).expect("in range");
    assert_eq!(buf, [2, 3]);
    let err = source.read_at(2, &mut buf).expect_err("past end");
    assert!(err.to_string().contains("offset 2"), "{err}");
    assert!(source.read_at(u64::MAX, &mut buf).is_err());
}

#[test]
fn file_range_digest_matches_digest_of_the_slice() {
    let bytes = pattern(3 * CHUNK_SIZE + 100);
    let file = temp_file(&bytes);
    let (offset, length) = (12_345, 2 * CHUNK_SIZE + 7);
    let range = FileRange::open(
        file.path(),
        offset as u64,
        Some(length as u64),
        id("f"),
        "file",
    )
    .expect("open");
    assert_eq!(range.region().address, offset as u64);
    assert_eq!(range.region().protection, Protection::READ_ONLY);
    let expected = digest_bytes(&bytes[offset..offset + length], 1);
    for threads in [1, 2, 3] {
        assert_eq!(digest_source(&range, threads).expect("hash"), expected);
    }
    let rest = FileRange::open(file.path(), offset as u64, None, id("f"), "file").expect("open");
    assert_eq!(
        digest_source(&rest, 0).expect("hash"),
        digest_bytes(&bytes[offset..], 1)
    );
    let whole =
        FileRange::open(file.path(), bytes.len() as u64, None, id("f"), "empty").expect("open");
    assert_eq!(
        digest_source(&whole, 0).expect("hash"),
        digest_bytes(&[], 1)
    );
}

#[test]
fn file_range_beyond_end_of_file_is_an_error() {
    let file = temp_file(&pattern(1000));
    let path = file.path().display().to_string();
    for (offset, length) in [
        (1001, None),
        (0, Some(1001)),
        (999, Some(2)),
        (u64::MAX, Some(u64::MAX)),
    ] {
        let err =
            FileRange::open(file.path(), offset, length, id("f"), "f").expect_err("beyond EOF");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                RegionError::BeyondEndOfFile {
                    file_size: 1000,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.contains(&path)
                && text.contains("1000 bytes")
                && text.contains(&offset.to_string()),
            "{text}"
        );
    }
    let missing =
        FileRange::open("/nonexistent/weights.bin", 0, None, id("f"), "f").expect_err("missing");
    assert!(
        missing.to_string().contains("/nonexistent/weights.bin"),
        "{missing}"
    );
    let dir = FileRange::open("/tmp", 0, None, id("f"), "f").expect_err("directory");
    assert!(matches!(dir, RegionError::NotAFile { .. }), "{dir}");
}

#[test]
fn file_that_shrinks_or_changes_is_an_error() {
    let file = temp_file(&pattern(3 * CHUNK_SIZE));
    let range = FileRange::open(file.path(), 0, None, id("f"), "f").expect("open");
    file.as_file()
        .set_len(CHUNK_SIZE as u64 + 10)
        .expect("truncate");
    let err = digest_source(&range, 2).expect_err("shrunk");
    assert!(
        matches!(err, RegionError::FileShrank { offset, .. } if offset == CHUNK_SIZE as u64 + 10),
        "{err}"
    );
    let head = FileRange::open(file.path(), 0, Some(10), id("f"), "f").expect("open");
    file.as_file().set_len(5 * CHUNK_SIZE as u64).expect("grow");
    let err = digest_source(&head, 1).expect_err("changed");
    assert!(matches!(err, RegionError::FileChanged { .. }), "{err}");
}

#[test]
fn maps_lines_parse_strictly() {
    let line = "7f1c2a000000-7f1c2a021000 r-xp 0001a000 fd:01 1234                       /opt/model weights.bin (deleted)";
    let mapping = Mapping::parse(line).expect("valid");
    assert_eq!(
        (mapping.start, mapping.end, mapping.file_offset),
        (0x7f1c_2a00_0000, 0x7f1c_2a02_1000, 0x1a000)
    );
    assert_eq!(
        (mapping.protection, mapping.shared),
        (Protection::READ_EXECUTE, false)
    );
    assert_eq!(
        mapping.pathname.as_deref(),
        Some("/opt/model weights.bin (deleted)")
    );
    let anonymous = Mapping::parse("1000-2000 rw-s 00000000 00:00 0 ").expect("valid");
    assert_eq!((anonymous.pathname, anonymous.shared), (None, true));
    for bad in [
        "",
        "1000-2000",
        "2000-1000 r--p 0 00:00 0",
        "1000-2000 r--x 0 00:00 0",
        "1000-zz r--p 0 00:00 0",
        "1000-2000 r--p 0g 00:00 0",
        "+1000-2000 r--p 0 00:00 0",
        "1000-2000 r--p 0 00:00",
    ] {
        assert!(Mapping::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn resolve_spans_adjacent_mappings_of_one_protection() {
    let map = |start, end, protection| Mapping {
        start,
        end,
        protection,
        shared: false,
        file_offset: 0,
        pathname: None,
    };
    let maps = [
        map(0x1000, 0x2000, Protection::READ_ONLY),
        map(0x2000, 0x3000, Protection::READ_ONLY),
        map(0x3000, 0x4000, Protection::READ_WRITE),
        map(0x5000, 0x6000, Protection::READ_WRITE),
    ];
    assert_eq!(
        resolve(1, &maps, 0x1800, None).expect("ok"),
        (0x800, Protection::READ_ONLY)
    );
    assert_eq!(
        resolve(1, &maps, 0x1800, Some(0x1800)).expect("ok"),
        (0x1800, Protection::READ_ONLY)
    );
    assert!(matches!(
        resolve(1, &maps, 0x1800, Some(0x2000)),
        Err(RegionError::MixedProtection {
            other_start: 0x3000,
            ..
        })
    ));
    assert!(matches!(
        resolve(1, &maps, 0x3800, Some(0x1000)),
        Err(RegionError::RangeNotMapped { gap: 0x4000, .. })
    ));
    assert!(matches!(
        resolve(1, &maps, 0x5800, Some(0x1000)),
        Err(RegionError::RangeNotMapped { gap: 0x6000, .. })
    ));
    assert!(matches!(
        resolve(1, &maps, 0x4000, None),
        Err(RegionError::AddressNotMapped {
            address: 0x4000,
            ..
        })
    ));
    assert!(matches!(
        resolve(1, &maps, 0x5800, Some(u64::MAX)),
        Err(RegionError::AddressOverflow { .. })
    ));
}

#[test]
fn own_heap_vec_digest_matches_digest_bytes() {
    let bytes = pattern(3 * CHUNK_SIZE + 5);
    let address = bytes.as_ptr() as u64;
    let region = ProcessRegion::open(
        std::process::id(),
        address,
        Some(bytes.len() as u64),
        id("vec"),
        "test vec",
    )
    .expect("open");
    assert!(region.region().protection.read && region.region().protection.write);
    for threads in [1, 2, 0] {
        assert_eq!(
            digest_source(&region, threads).expect("hash"),
            digest_bytes(&bytes, 1)
        );
    }
    let small = vec![0xa5u8; 100];
    let region = ProcessRegion::open(
        std::process::id(),
        small.as_ptr() as u64,
        Some(100),
        id("small"),
        "",
    )
    .expect("open");
    assert_eq!(
        digest_source(&region, 0).expect("hash"),
        digest_bytes(&small, 1)
    );
}

/// A child process killed when the test ends.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn child_process_binary_mapping_matches_the_file() {
    let child = Sleeper(
        Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep"),
    );
    let pid = child.0.id();
    // The child may still be inside execve: its exe link can name the new
    // binary before the binary is mapped. Wait until it is.
    let mut attempt = 0;
    let (exe, mappings) = loop {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).expect("exe link");
        let found = ProcessRegion::find_by_name(pid, exe.to_str().expect("utf-8 path"));
        match found {
            Ok(mappings) if exe.ends_with("sleep") => break (exe, mappings),
            _ if attempt < 200 => attempt += 1,
            other => panic!("sleep's binary never appeared in its maps: {other:?}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let first = mappings
        .iter()
        .find(|m| m.protection.read)
        .expect("a readable mapping");
    let region = ProcessRegion::open(pid, first.start, None, id("sleep"), "sleep binary")
        .expect("open as root");
    assert_eq!(region.region().size, first.end - first.start);
    assert_eq!(region.region().protection, first.protection);
    let file_size = fs::metadata(&exe).expect("stat").len();
    let length = region.region().size.min(file_size - first.file_offset);
    let in_file =
        FileRange::open(&exe, first.file_offset, Some(length), id("f"), "").expect("open file");
    let in_memory = ProcessRegion::open(pid, first.start, Some(length), id("m"), "").expect("open");
    assert_eq!(
        digest_source(&in_memory, 0).expect("hash memory"),
        digest_source(&in_file, 0).expect("hash file")
    );
    let missing = ProcessRegion::find_by_name(pid, "no-such-weights.bin").expect_err("not mapped");
    assert!(
        missing.to_string().contains("no-such-weights.bin"),
        "{missing}"
    );
}

#[test]
fn bogus_pid_is_an_error_naming_it() {
    let err =
        ProcessRegion::open(4_000_000_000, 0x1000, None, id("x"), "").expect_err("no such pid");
    assert!(
        matches!(err, RegionError::NoSuchProcess { pid: 4_000_000_000 }),
        "{err}"
    );
    assert_eq!(err.to_string(), "no process with pid 4000000000");
}

#[test]
fn unmapped_addresses_are_errors() {
    let pid = std::process::id();
    let err = ProcessRegion::open(pid, 0, Some(1), id("x"), "").expect_err("page zero");
    assert!(
        matches!(err, RegionError::AddressNotMapped { address: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("0x0") && err.to_string().contains(&pid.to_string()),
        "{err}"
    );
    let maps = read_maps(pid).expect("own maps");
    let before_gap = maps
        .windows(2)
        .find(|w| w[0].end != w[1].start)
        .map(|w| w[0].end)
        .expect("a gap");
    let err = ProcessRegion::open(pid, before_gap - 1, Some(2), id("x"), "")
        .expect_err("runs into the gap");
    assert!(
        matches!(err, RegionError::RangeNotMapped { gap, .. } if gap == before_gap),
        "{err}"
    );
}

#[test]
fn proc_errors_are_classified() {
    let path = PathBuf::from("/proc/1/mem");
    let denied = proc_error(
        1,
        path.clone(),
        io::Error::from(io::ErrorKind::PermissionDenied),
    );
    assert!(
        denied.to_string().contains("CAP_SYS_PTRACE") && denied.to_string().contains("/proc/1/mem"),
        "{denied}"
    );
    assert!(matches!(
        proc_error(1, path.clone(), io::Error::from_raw_os_error(ESRCH)),
        RegionError::NoSuchProcess { pid: 1 }
    ));
    assert!(matches!(
        proc_error(1, path, io::Error::other("x")),
        RegionError::ProcRead { .. }
    ));
}
