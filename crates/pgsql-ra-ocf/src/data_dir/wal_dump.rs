//! Where the valid local WAL ends, from `pg_waldump`'s output (run with
//! `LC_ALL=C`). pg_waldump reads records from `--start` until one does not
//! validate, then exits 1 with a message saying where it stopped
//! (`src/backend/access/transam/xlogreader.c` and
//! `src/bin/pg_waldump/pg_waldump.c`, PostgreSQL 10–18). Two kinds:
//!
//! * **at a record** ("invalid record length at X", "record with incorrect
//!   prev-link P at X", "invalid resource manager ID N at X", "incorrect
//!   resource manager data checksum in record at X", "invalid record offset
//!   at X", "record length N at X too long"): X is where the next record
//!   would begin, which is the end of the last valid one ([`Stop::Exact`]);
//! * **in a page or a file** ("unexpected pageaddr … in log segment S,
//!   offset N" (≤ 15) / "… in WAL segment S, LSN X, offset N" (16+), "invalid
//!   magic number …", "invalid info bits …", "could not find file \"S\"",
//!   "there is no contrecord flag at X", "invalid contrecord length … at X",
//!   "contrecord is requested by X"…): the failure lies at or after the end,
//!   not exactly on it ([`Stop::Near`]). The end is then computed from the
//!   last record pg_waldump printed ([`last_record`], [`record_end`]).

use pgsql_ra_core::Lsn;

/// `SizeOfXLogShortPHD` (`src/include/access/xlog_internal.h`), maxaligned.
pub const SHORT_PAGE_HEADER: u64 = 24;
/// `SizeOfXLogLongPHD`, maxaligned: the header of a segment's first page.
pub const LONG_PAGE_HEADER: u64 = 40;
/// `MAXIMUM_ALIGNOF` on the 64-bit platforms PostgreSQL runs on here.
const MAXALIGN: u64 = 8;

/// Where pg_waldump said it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Exactly the end of the last valid record.
    Exact(Lsn),
    /// A failure at or after the end (a page or a file); the end is found
    /// from the last record printed.
    Near(Lsn),
}

/// The size of WAL pages and segments, from `pg_controldata` ("WAL block
/// size", "Bytes per WAL segment").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalGeometry {
    /// `XLOG_BLCKSZ` in bytes.
    pub page: u64,
    /// `wal_segment_size` in bytes.
    pub segment: u64,
}

/// The LSN right after the last `prefix` in `message` that an LSN follows
/// (`0/1B46C50`, `0/01B46C50`; trailing `:`/`,`/`.` ignored), so "at
/// least 24" is skipped.
fn lsn_after(message: &str, prefix: &str) -> Option<Lsn> {
    message.rmatch_indices(prefix).find_map(|(i, _)| {
        let word = message[i + prefix.len()..].split_whitespace().next()?;
        Lsn::parse_pg(word.trim_end_matches([':', ',', '.', ')'])).ok()
    })
}

/// The LSN of byte `offset` of the WAL segment file `name` (24 hex digits:
/// timeline, then the segment number as two halves, `XLogFileName`).
pub fn segment_lsn(name: &str, offset: u64, segment: u64) -> Option<Lsn> {
    let name = name.trim_matches('"');
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) || segment == 0 {
        return None;
    }
    let hi = u64::from_str_radix(&name[8..16], 16).ok()?;
    let lo = u64::from_str_radix(&name[16..24], 16).ok()?;
    let per_hi = 0x1_0000_0000u64 / segment;
    let segno = hi.checked_mul(per_hi)?.checked_add(lo)?;
    segno.checked_mul(segment)?.checked_add(offset).map(Lsn)
}

/// Where pg_waldump stopped, from its error output; `None` when no known
/// message is there.
pub fn parse_stop(stderr: &str, geometry: WalGeometry) -> Option<Stop> {
    // The last error line is the one that ended the run.
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("error:") || l.contains("FATAL:"))?;
    const EXACT: &[&str] = &[
        "invalid record length at ",
        "invalid resource manager ID ",
        "incorrect resource manager data checksum in record at ",
        "invalid record offset at ",
        "record with incorrect prev-link ",
        "record length ",
    ];
    if EXACT.iter().any(|k| line.contains(k)) {
        // The position is the last " at X" of the message ("error in WAL
        // record at R: <reason> at X" names R, the last valid record, first).
        if let Some(x) = lsn_after(line, " at ") {
            return Some(Stop::Exact(x));
        }
    }
    // 16+: "…, LSN X/Y, offset N".
    if let Some(x) = lsn_after(line, ", LSN ") {
        return Some(Stop::Near(x));
    }
    // ≤ 15: "… in log segment S, offset N".
    if let Some(i) = line.find("log segment ") {
        let rest = &line[i + "log segment ".len()..];
        let mut words = rest.split([',', ' ']).filter(|w| !w.is_empty());
        let name = words.next()?;
        let offset = match words.next() {
            Some("offset") => words.next().and_then(|n| n.parse::<u64>().ok()),
            _ => None,
        }
        .unwrap_or(0);
        return segment_lsn(name, offset, geometry.segment).map(Stop::Near);
    }
    // The next segment file is missing: WAL ends at or before its start.
    if let Some(i) = line.find("could not find file \"") {
        let rest = &line[i + "could not find file \"".len()..];
        let name = rest.split('"').next()?;
        return segment_lsn(name, 0, geometry.segment).map(Stop::Near);
    }
    for k in [" at ", "requested by "] {
        if let Some(x) = lsn_after(line, k) {
            return Some(Stop::Near(x));
        }
    }
    None
}

/// One record line of pg_waldump: its start and total length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLine {
    /// `lsn:` (the record's start).
    pub start: Lsn,
    /// `len (rec/tot): r/ t` → t, bytes (headers and data, no page headers).
    pub total_len: u64,
    /// An `XLOG SWITCH` record (the rest of its segment belongs to it).
    pub is_switch: bool,
}

/// Parses one record line (`rmgr: … len (rec/tot): 54/ 54, tx: …, lsn:
/// 0/01B46A80, prev …, desc: …`); `None` for any other line.
pub fn parse_record_line(line: &str) -> Option<RecordLine> {
    let rest = line.strip_prefix("rmgr:")?;
    let rmgr = rest.split_whitespace().next()?;
    let len = &rest[rest.find("len (rec/tot):")? + "len (rec/tot):".len()..];
    let total = len.split('/').nth(1)?.split(',').next()?.trim();
    let start = lsn_after(rest, "lsn: ")?;
    let desc = rest.find("desc: ").map(|i| &rest[i + 6..]).unwrap_or("");
    Some(RecordLine {
        start,
        total_len: total.parse().ok()?,
        is_switch: rmgr == "XLOG" && desc.trim_start().starts_with("SWITCH"),
    })
}

/// The last record line of pg_waldump's standard output.
pub fn last_record(stdout: &str) -> Option<RecordLine> {
    stdout.lines().rev().find_map(parse_record_line)
}

/// Where a record ends (xlogreader's `EndRecPtr`): its bytes laid over the
/// WAL pages from `start`, a page header skipped at every page boundary it
/// crosses (the long one at a segment's first page), maxaligned; an XLOG
/// SWITCH record ends at the next segment boundary.
pub fn record_end(rec: RecordLine, g: WalGeometry) -> Option<Lsn> {
    if g.page == 0 || g.segment == 0 || !g.segment.is_multiple_of(g.page) {
        return None;
    }
    let mut pos = rec.start.0;
    let mut left = rec.total_len;
    loop {
        let page_end = (pos / g.page).checked_add(1)?.checked_mul(g.page)?;
        let room = page_end - pos;
        if left <= room {
            pos += left;
            break;
        }
        left -= room;
        let header = if page_end.is_multiple_of(g.segment) {
            LONG_PAGE_HEADER
        } else {
            SHORT_PAGE_HEADER
        };
        pos = page_end.checked_add(header)?;
    }
    let end = pos.checked_add(MAXALIGN - 1)? / MAXALIGN * MAXALIGN;
    if rec.is_switch {
        return end
            .checked_add(g.segment - 1)
            .map(|e| Lsn(e / g.segment * g.segment));
    }
    Some(Lsn(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: WalGeometry = WalGeometry {
        page: 8192,
        segment: 16 * 1024 * 1024,
    };

    fn lsn(t: &str) -> Lsn {
        Lsn::parse_pg(t).expect("test LSN")
    }

    /// Recorded on PostgreSQL 15 after kill -9 of a primary right after a commit.
    #[test]
    fn recorded_pg15_end_at_a_zeroed_record_header() {
        let err = "pg_waldump: error: error in WAL record at 0/1B46AB8: invalid record length at 0/1B46C50: wanted 24, got 0\n";
        assert_eq!(parse_stop(err, G), Some(Stop::Exact(lsn("0/1B46C50"))));
    }

    /// Recorded on PostgreSQL 15 after pg_switch_wal() then kill -9: the
    /// next segment file did not exist yet.
    #[test]
    fn recorded_pg15_missing_next_segment() {
        let err = "pg_waldump: error: could not find file \"000000010000000000000002\": No such file or directory\n";
        assert_eq!(parse_stop(err, G), Some(Stop::Near(lsn("0/2000000"))));
        let out = "rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/01B576F0, prev 0/01B576B0, desc: COMMIT 2026-11-30 21:10:02.727856 UTC\n\
                   rmgr: XLOG        len (rec/tot):     24/    24, tx:          0, lsn: 0/01B57718, prev 0/01B576F0, desc: SWITCH \n";
        let rec = last_record(out).expect("a record");
        assert_eq!(
            rec,
            RecordLine {
                start: lsn("0/1B57718"),
                total_len: 24,
                is_switch: true
            }
        );
        assert_eq!(record_end(rec, G), Some(lsn("0/2000000")));
    }

    #[test]
    fn every_record_level_message_is_exact() {
        for (msg, at) in [
            (
                "record with incorrect prev-link 0/1234 at 0/3000060",
                "0/3000060",
            ),
            ("invalid resource manager ID 201 at 0/3000060", "0/3000060"),
            (
                "incorrect resource manager data checksum in record at 0/3000060",
                "0/3000060",
            ),
            ("invalid record offset at 0/3000060", "0/3000060"),
            (
                "record length 4294967295 at 0/3000060 too long",
                "0/3000060",
            ),
            (
                "invalid record length at 0/03000060: expected at least 24, got 0",
                "0/3000060",
            ),
        ] {
            let err = format!("pg_waldump: error: error in WAL record at 0/3000028: {msg}\n");
            assert_eq!(parse_stop(&err, G), Some(Stop::Exact(lsn(at))), "{msg}");
        }
    }

    #[test]
    fn page_level_messages_of_15_and_16_are_near() {
        let v15 = "pg_waldump: error: error in WAL record at 0/3FFFF10: unexpected pageaddr 0/1000000 in log segment 000000010000000000000003, offset 8192";
        assert_eq!(parse_stop(v15, G), Some(Stop::Near(lsn("0/3002000"))));
        let magic15 =
            "pg_waldump: error: error in WAL record at 0/3FFFF10: invalid magic number 0000 in log segment 000000020000000100000004, offset 0";
        assert_eq!(parse_stop(magic15, G), Some(Stop::Near(lsn("1/4000000"))));
        let v16 = "pg_waldump: error: error in WAL record at 0/3FFFF10: unexpected pageaddr 0/1000000 in WAL segment 000000010000000000000003, LSN 0/3002000, offset 8192";
        assert_eq!(parse_stop(v16, G), Some(Stop::Near(lsn("0/3002000"))));
        let contrecord =
            "pg_waldump: error: error in WAL record at 0/3000028: there is no contrecord flag at 0/3002000";
        assert_eq!(
            parse_stop(contrecord, G),
            Some(Stop::Near(lsn("0/3002000")))
        );
    }

    #[test]
    fn unknown_or_empty_output_says_nothing() {
        assert_eq!(parse_stop("", G), None);
        assert_eq!(parse_stop("pg_waldump: error: out of memory\n", G), None);
        assert_eq!(parse_stop("no error here at 0/1\n", G), None);
    }

    #[test]
    fn record_ends_over_pages_and_segments() {
        let rec = |start: &str, len: u64| RecordLine {
            start: lsn(start),
            total_len: len,
            is_switch: false,
        };
        // Within a page: maxaligned.
        assert_eq!(record_end(rec("0/1B46AB8", 34), G), Some(lsn("0/1B46AE0")));
        // Ending exactly at a page boundary: the boundary.
        assert_eq!(record_end(rec("0/1001FC0", 64), G), Some(lsn("0/1002000")));
        // Crossing one page boundary: 64 bytes, a short header, 36 bytes.
        assert_eq!(record_end(rec("0/1001FC0", 100), G), Some(lsn("0/1002040")));
        // Crossing into a new segment: 16 bytes, the long header, 16 bytes.
        assert_eq!(record_end(rec("0/1FFFFF0", 32), G), Some(lsn("0/2000038")));
        // Over three pages: 8152 + 8168 + 8168 + 88 bytes.
        assert_eq!(
            record_end(rec("0/1000028", 3 * 8192), G),
            Some(lsn("0/1006070"))
        );
        assert_eq!(
            record_end(
                rec("0/1", 1),
                WalGeometry {
                    page: 0,
                    segment: 0
                }
            ),
            None
        );
    }

    #[test]
    fn record_lines_parse_and_other_lines_do_not() {
        let l = "rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/01B46A80, prev 0/01B46A48, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16384 blk 0";
        assert_eq!(
            parse_record_line(l),
            Some(RecordLine {
                start: lsn("0/1B46A80"),
                total_len: 54,
                is_switch: false
            })
        );
        assert_eq!(parse_record_line("pg_waldump: error: x"), None);
        assert_eq!(parse_record_line("rmgr: Heap len (rec/tot): x"), None);
        assert_eq!(last_record(""), None);
    }

    #[test]
    fn segment_names_map_to_lsns() {
        assert_eq!(
            segment_lsn("000000010000000000000002", 0, G.segment),
            Some(lsn("0/2000000"))
        );
        assert_eq!(
            segment_lsn("0000000300000001000000FF", 16, G.segment),
            Some(lsn("1/FF000010"))
        );
        assert_eq!(segment_lsn("xyz", 0, G.segment), None);
        assert_eq!(segment_lsn("000000010000000000000002", 0, 0), None);
    }
}
