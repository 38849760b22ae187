//! Round trips and exhaustive damage: every byte flipped, every truncation, reordering,
//! appended garbage and a future version must be refused.

use crate::*;

fn manifest() -> Manifest {
    Manifest {
        format: FORMAT_VERSION,
        keyward_version: "test".into(),
        created_at: "2026-11-22T00:00:00Z".into(),
        taken: "offline".into(),
        identity: Identity {
            organization: "acme".into(),
            site: "paris".into(),
            server_name: "kms-1".into(),
            server_id: "id".into(),
            incarnation: 1,
        },
        change_seq: 42,
        schema_version: 1,
        complete: true,
        components: Vec::new(),
        seal: SealEntry { config: serde_json::json!({"format": 1}), keyring: Vec::new() },
        authenticated: false,
    }
}

fn object(i: u32) -> Record {
    Record::Object {
        id: format!("id-{i}"),
        name: format!("key-{i}"),
        key_type: "aes-256".into(),
        state: "active".into(),
        enabled: true,
        exportable: false,
        current_version: 1,
        created_at: "t".into(),
        updated_at: "t".into(),
        activated_at: None,
        deactivated_at: None,
        destroyed_at: None,
        attributes: serde_json::json!({}),
    }
}

/// A small archive with several chunks per component (tiny chunk size).
fn archive(keys: u32, mac_key: Option<&[u8]>) -> Vec<u8> {
    let opts = WriterOptions { level: 1, chunk_bytes: 600, ..Default::default() };
    let mut w = ArchiveWriter::new(Vec::new(), opts).unwrap();
    w.begin_component("config", 1).unwrap();
    w.record(&Record::Component { name: "keys".into(), schema_version: 1, installed_at: "t".into() }).unwrap();
    w.end_component().unwrap();
    w.begin_component("directory", 1).unwrap();
    w.end_component().unwrap();
    w.begin_component("keys", 1).unwrap();
    for i in 0..keys {
        w.record(&object(i)).unwrap();
        w.record(&Record::KeyVersion {
            object_id: format!("id-{i}"),
            version: 1,
            material: Some("AAECAw==".into()),
            public_key: None,
            created_at: "t".into(),
        })
        .unwrap();
    }
    w.end_component().unwrap();
    w.begin_component("audit", 1).unwrap();
    w.end_component().unwrap();
    let (bytes, summary) = w.finish(manifest(), mac_key).unwrap();
    assert_eq!(summary.bytes, bytes.len() as u64);
    bytes
}

fn read(bytes: &[u8]) -> Result<(ReadSummary, Vec<Record>)> {
    let mut records = Vec::new();
    let summary = ArchiveReader::new(bytes).read(|_, r| {
        records.push(r);
        Ok(())
    })?;
    Ok((summary, records))
}

#[test]
fn round_trip() {
    let bytes = archive(20, Some(b"mac key"));
    let (summary, records) = read(&bytes).unwrap();
    assert_eq!(records.len(), 41);
    assert_eq!(summary.manifest.component("keys").unwrap().records, 40);
    assert!(summary.manifest.component("keys").unwrap().chunks.len() > 1, "the test needs several chunks");
    assert_eq!(records[1], object(0));
    summary.authenticate(b"mac key").unwrap();
    assert!(matches!(summary.authenticate(b"other key"), Err(Error::NotAuthentic)));
    let quick = read_manifest(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!(quick, summary.manifest);
}

#[test]
fn unauthenticated_archives_say_so() {
    let (summary, _) = read(&archive(2, None)).unwrap();
    assert!(!summary.manifest.authenticated);
    assert!(summary.authenticate(b"any").is_err());
}

#[test]
fn every_flipped_byte_is_detected() {
    let bytes = archive(8, Some(b"k"));
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            assert!(read(&bad).is_err(), "flipping bit {bit:#x} of byte {i} of {} went unnoticed", bytes.len());
        }
    }
}

#[test]
fn every_truncation_and_extension_is_detected() {
    let bytes = archive(8, None);
    for len in 0..bytes.len() {
        assert!(read(&bytes[..len]).is_err(), "truncation to {len} bytes went unnoticed");
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"garbage");
    let err = read(&longer).unwrap_err().to_string();
    assert!(err.contains("after the end"), "{err}");
}

#[test]
fn swapped_chunks_are_detected() {
    // Rebuild an archive with two chunks of "keys" written in the opposite order but every hash
    // recomputed, as an attacker without the MAC key could: the manifest's offsets catch it.
    let bytes = archive(8, None);
    let (summary, _) = read(&bytes).unwrap();
    let keys = summary.manifest.component("keys").unwrap();
    let (a, b) = (&keys.chunks[0], &keys.chunks[1]);
    let (a_start, b_start) = (a.offset as usize, b.offset as usize);
    let b_end = keys.chunks.get(2).map(|c| c.offset as usize).unwrap();
    let mut swapped = bytes[..a_start].to_vec();
    swapped.extend_from_slice(&bytes[b_start..b_end]);
    swapped.extend_from_slice(&bytes[a_start..b_start]);
    swapped.extend_from_slice(&bytes[b_end..]);
    assert_eq!(swapped.len(), bytes.len());
    assert!(read(&swapped).is_err());
}

#[test]
fn future_versions_and_foreign_files_are_refused_by_name() {
    let mut bytes = archive(1, None);
    bytes[9] = 3;
    let err = read(&bytes).unwrap_err();
    assert!(matches!(err, Error::NewerFormat { found: 3, supported: 2 }), "{err}");
    assert!(err.to_string().contains("newer keyward"));
    assert!(matches!(read(b"PK\x03\x04 a zip file"), Err(Error::NotAnArchive)));
    assert!(matches!(read(b""), Err(Error::NotAnArchive)));
}

#[test]
fn an_incomplete_full_backup_is_refused() {
    let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    w.begin_component("keys", 1).unwrap();
    w.record(&object(1)).unwrap();
    w.end_component().unwrap();
    let (bytes, _) = w.finish(manifest(), None).unwrap();
    let err = read(&bytes).unwrap_err().to_string();
    assert!(err.contains("\"config\"") && err.contains("required"), "{err}");
    // The same, declared partial, is fine.
    let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    w.begin_component("keys", 1).unwrap();
    w.end_component().unwrap();
    let (bytes, _) = w.finish(Manifest { complete: false, ..manifest() }, None).unwrap();
    read(&bytes).unwrap();
}

#[test]
fn writer_refuses_misuse() {
    let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    assert!(w.record(&object(1)).is_err());
    w.begin_component("config", 1).unwrap();
    assert!(w.record(&object(1)).is_err(), "a keys record in the config component");
}

fn pki_record() -> Record {
    Record::Pki {
        kind: "cert".into(),
        id: "0a1b".into(),
        parent: Some("person-1".into()),
        lookup: None,
        doc: serde_json::json!({"usage": "encryption"}),
        secret: Some("AAECAw==".into()),
        created_at: "t".into(),
        updated_at: "t".into(),
    }
}

#[test]
fn format_2_holds_the_pki_component_and_format_1_cannot() {
    let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    assert!(w.begin_component("pki", 1).is_err(), "a version 1 archive has no pki component");

    let opts = WriterOptions { format: 2, ..Default::default() };
    let mut w = ArchiveWriter::new(Vec::new(), opts).unwrap();
    w.begin_component("pki", 1).unwrap();
    w.record(&pki_record()).unwrap();
    w.end_component().unwrap();
    let (bytes, _) = w.finish(Manifest { complete: false, ..manifest() }, None).unwrap();
    assert_eq!(&bytes[8..10], &[0, 2]);
    let (summary, records) = read(&bytes).unwrap();
    assert_eq!(summary.manifest.format, 2);
    assert_eq!(records, vec![pki_record()]);

    // The same archive relabelled version 1 is refused: version 1 has no pki component.
    let mut relabelled = bytes.clone();
    relabelled[9] = 1;
    let err = read(&relabelled).unwrap_err().to_string();
    assert!(err.contains("format version 1 has no component \"pki\""), "{err}");
}

#[test]
fn archives_without_pki_stay_version_1() {
    let bytes = archive(3, None);
    assert_eq!(&bytes[8..10], &[0, 1]);
    assert_eq!(read(&bytes).unwrap().0.manifest.format, 1);
}

/// Parts written by several lanes, out of order and at different speeds, land in plan order:
/// the records read back exactly as one producer would have written them.
#[test]
fn lanes_write_parts_in_plan_order_whatever_order_they_finish_in() {
    // Parts taken far out of plan order: the window must let every one begin.
    let opts = WriterOptions { level: 1, chunk_bytes: 500, parts_ahead: 16, ..Default::default() };
    let mut w = ArchiveWriter::new(Vec::new(), opts).unwrap();
    let config = w.plan_component("config", 1, 1).unwrap();
    let keys = w.plan_component("keys", 1, 4).unwrap();
    let directory = w.plan_component("directory", 1, 0).unwrap();
    let audit = w.plan_component("audit", 1, 2).unwrap();
    assert!(directory.is_empty());
    let component = Record::Component { name: "keys".into(), schema_version: 1, installed_at: "t".into() };
    let audit_record = |i: u64| Record::Audit {
        seq: i,
        at: "t".into(),
        actor: "a".into(),
        action: "b".into(),
        target: "c".into(),
        outcome: "200".into(),
        detail: String::new(),
        prev_hash: "00".into(),
        hash: "11".into(),
    };
    // Part p of the keys holds objects 10p..10p+10; part 1 holds none.
    let write_keys = |lane: &mut Lane, p: usize| {
        lane.begin(&keys[p]).unwrap();
        if p != 1 {
            for i in (p as u32 * 10)..(p as u32 * 10 + 10) {
                lane.record(&object(i)).unwrap();
            }
        }
        lane.end().unwrap();
    };
    let (mut a, mut b) = (w.lane().unwrap(), w.lane().unwrap());
    std::thread::scope(|s| {
        s.spawn(|| {
            write_keys(&mut b, 3);
            b.begin(&audit[1]).unwrap();
            b.record(&audit_record(2)).unwrap();
            b.end().unwrap();
            write_keys(&mut b, 1);
        });
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            a.begin(&audit[0]).unwrap();
            a.record(&audit_record(1)).unwrap();
            assert!(a.record(&object(99)).is_err(), "a keys record in an audit part");
            a.end().unwrap();
            write_keys(&mut a, 2);
            write_keys(&mut a, 0);
            a.begin(&config[0]).unwrap();
            a.record(&component).unwrap();
            a.end().unwrap();
        });
    });
    drop((a, b));
    let (bytes, summary) = w.finish(manifest(), None).unwrap();
    assert_eq!(summary.bytes, bytes.len() as u64);
    let (read_back, records) = read(&bytes).unwrap();
    let mut want = vec![component];
    want.extend([0, 2, 3].iter().flat_map(|p| (p * 10..p * 10 + 10).map(object)));
    want.extend([audit_record(1), audit_record(2)]);
    assert_eq!(records, want);
    let names: Vec<_> = read_back.manifest.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["config", "keys", "directory", "audit"]);
    let keys_entry = read_back.manifest.component("keys").unwrap();
    assert_eq!(keys_entry.records, 30);
    assert!(keys_entry.chunks.len() >= 3, "each part ends its own chunks");
}

#[test]
fn a_planned_part_left_unwritten_fails_the_archive() {
    let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    let parts = w.plan_component("keys", 1, 2).unwrap();
    let mut lane = w.lane().unwrap();
    lane.begin(&parts[1]).unwrap();
    lane.record(&object(1)).unwrap();
    lane.end().unwrap();
    drop(lane);
    let err = w.finish(Manifest { complete: false, ..manifest() }, None).unwrap_err().to_string();
    assert!(err.contains("not finished"), "{err}");
}

#[test]
fn a_record_must_be_one_line() {
    let write = |record: &[u8]| {
        let mut w = ArchiveWriter::new(Vec::new(), WriterOptions::default()).unwrap();
        let parts = w.plan_component("keys", 1, 1).unwrap();
        let mut lane = w.lane().unwrap();
        lane.begin(&parts[0]).unwrap();
        assert!(lane.record_with("keys", |_| Ok(())).is_err(), "an empty record");
        let record = record.to_vec();
        lane.record_with("keys", move |b| {
            b.extend_from_slice(&record);
            Ok(())
        })
        .unwrap();
        lane.end().unwrap();
        drop(lane);
        w.finish(Manifest { complete: false, ..manifest() }, None).unwrap().0
    };
    let one = serde_json::to_vec(&object(1)).unwrap();
    assert_eq!(read(&write(&one)).unwrap().1, vec![object(1)]);
    // A record that spans lines is caught by the read-back check every backup gets.
    let spanning = String::from_utf8(one).unwrap().replacen(',', ",\n", 1);
    let bytes = write(spanning.as_bytes());
    let err = ArchiveReader::new(&bytes[..]).check().unwrap_err().to_string();
    assert!(err.contains("holds 2 records but its header says 1"), "{err}");
    let err = read(&bytes).unwrap_err().to_string();
    assert!(err.contains("record 1 is malformed"), "{err}");
    // Empty lines are no records, for the quick count as for the full read.
    let mut trailing = serde_json::to_vec(&object(1)).unwrap();
    trailing.push(b'\n');
    let bytes = write(&trailing);
    assert_eq!(ArchiveReader::new(&bytes[..]).check().unwrap().bytes, bytes.len() as u64);
    assert_eq!(read(&bytes).unwrap().1, vec![object(1)]);
}

/// Written in pieces of any size through the checking writer: a whole archive passes and
/// hashes as its bytes do; a damaged or cut one fails, whichever piece the damage is in.
#[test]
fn the_checking_writer_checks_the_stream_it_passes_on() {
    let bytes = archive(30, None);
    let through = |stream: &[u8], piece: usize| -> Result<(Vec<u8>, ReadSummary, [u8; 32])> {
        let mut w = CheckingWriter::new(Vec::new()).unwrap();
        for p in stream.chunks(piece) {
            if std::io::Write::write_all(&mut w, p).is_err() {
                break; // the check already failed; `finish` says why
            }
        }
        w.finish()
    };
    for piece in [1, 7, 4096, bytes.len()] {
        let (copy, summary, hash) = through(&bytes, piece).unwrap();
        assert_eq!(copy, bytes);
        assert_eq!(summary.bytes, bytes.len() as u64);
        assert_eq!(hash, keyward_crypto::sha256(&bytes));
    }
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0x40;
    assert!(matches!(through(&damaged, 1000), Err(Error::Corrupt { .. } | Error::Truncated { .. })));
    let err = through(&bytes[..bytes.len() - 3], 1000).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(through(&longer, 1000).is_err(), "a byte after the trailer");
}

/// A lane that would run more than `parts_ahead` parts past the archive waits for it; a lane
/// dropped in the middle of a part stops the archive, and whoever waits behind it.
#[test]
fn lanes_wait_rather_than_run_far_ahead_and_an_abandoned_part_stops_everyone() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let opts = WriterOptions { parts_ahead: 1, ..Default::default() };
    let mut w = ArchiveWriter::new(Vec::new(), opts).unwrap();
    let parts = w.plan_component("keys", 1, 3).unwrap();
    let (mut a, mut b) = (w.lane().unwrap(), w.lane().unwrap());
    let began = AtomicBool::new(false);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            b.begin(&parts[2]).unwrap();
            began.store(true, Ordering::SeqCst);
            b.record(&object(2)).unwrap();
            b.end().unwrap();
        });
        a.begin(&parts[0]).unwrap();
        a.record(&object(0)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!began.load(Ordering::SeqCst), "two parts ahead with a window of one");
        a.end().unwrap();
        a.begin(&parts[1]).unwrap();
        a.record(&object(1)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!began.load(Ordering::SeqCst), "still two parts ahead");
        a.end().unwrap();
        waiter.join().unwrap();
    });
    drop((a, b));
    let (bytes, _) = w.finish(Manifest { complete: false, ..manifest() }, None).unwrap();
    assert_eq!(read(&bytes).unwrap().1, vec![object(0), object(1), object(2)]);

    let mut w = ArchiveWriter::new(Vec::new(), opts).unwrap();
    let parts = w.plan_component("keys", 1, 3).unwrap();
    let (mut a, mut b) = (w.lane().unwrap(), w.lane().unwrap());
    std::thread::scope(|s| {
        let waiter = s.spawn(|| b.begin(&parts[2]));
        a.begin(&parts[0]).unwrap();
        a.record(&object(0)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(a); // say, its thread failed reading the store
        assert!(matches!(waiter.join().unwrap(), Err(Error::WriterStopped)));
    });
    drop(b);
    let err = w.finish(Manifest { complete: false, ..manifest() }, None).unwrap_err().to_string();
    assert!(err.contains("abandoned"), "{err}");
}
