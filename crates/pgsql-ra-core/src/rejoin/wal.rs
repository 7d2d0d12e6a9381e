//! Does the primary still hold the WAL a rejoining node requests first?
//! (issue 10, "Precisions": the seed archives to each node's own directory
//! and `wal_keep_size` may be 0.) Pure: judged from
//! [`crate::ports::PrimaryWal`].
//!
//! * A standby asks its primary for WAL from the start of the segment that
//!   holds the first record it lacks (`RequestXLogStreaming` rounds the
//!   start down to the segment: PostgreSQL, `walreceiverfuncs.c`).
//! * On a historic timeline the walsender reads the segment that holds a
//!   timeline switch from the *new* timeline's file (the old one is
//!   `.partial` after a promotion; PostgreSQL, `walsender.c`,
//!   `XLogSendPhysical`): the file of segment `s` is the newest timeline of
//!   the primary's history that began before the end of `s`
//!   ([`file_timeline`]).
//! * From there on every later segment is needed, on each timeline of the
//!   history up to the primary's own ([`check`]).

use std::fmt;

use serde::Serialize;

use crate::lsn::Lsn;
use crate::ports::{PrimaryFacts, SegmentRun, WalHoldings};

/// The segment number of `lsn` for `segment_size`-byte segments.
pub fn segment_of(lsn: Lsn, segment_size: u64) -> u64 {
    lsn.0 / segment_size.max(1)
}

/// PostgreSQL's WAL file name of segment `segno` on `timeline`
/// (`XLogFileName`: timeline, then the segment number split into the
/// 4 GiB "log" and the segment within it, 8 hex digits each).
pub fn segment_file_name(timeline: u32, segno: u64, segment_size: u64) -> String {
    let per_id = (0x1_0000_0000u64 / segment_size.max(1)).max(1);
    format!("{timeline:08X}{:08X}{:08X}", segno / per_id, segno % per_id)
}

/// The timelines of the primary's history from `local_timeline` on, each
/// with where it ends (`None`: the primary's own, still open).
fn chain(primary: &PrimaryFacts, local_timeline: u32) -> Vec<(u32, Option<Lsn>)> {
    let mut out = Vec::new();
    let mut t = local_timeline;
    let mut entries: Vec<_> = primary.history.clone();
    entries.sort_by_key(|e| e.parent);
    while t < primary.timeline {
        let Some(i) = entries.iter().position(|e| e.parent == t) else {
            break;
        };
        out.push((t, Some(entries[i].switch_point)));
        t = entries.get(i + 1).map_or(primary.timeline, |e| e.parent);
    }
    out.push((t, None));
    out
}

/// The timeline whose file the primary serves segment `segno` from, for a
/// node on `local_timeline`: the newest timeline of the chain that began
/// before the end of the segment.
pub fn file_timeline(
    primary: &PrimaryFacts,
    local_timeline: u32,
    segno: u64,
    segment_size: u64,
) -> u32 {
    let end = Lsn(segno.saturating_add(1).saturating_mul(segment_size));
    let mut file = local_timeline;
    for (t, ends_at) in chain(primary, local_timeline) {
        file = t;
        match ends_at {
            Some(s) if s < end => continue,
            _ => break,
        }
    }
    file
}

/// Which step of the rejoin needs the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalStep {
    /// Start as a standby as it is: it streams from its end of WAL.
    Follow,
    /// After `pg_rewind` it replays its own WAL from the last common
    /// checkpoint up to the divergence, then the primary's.
    Rewind,
}

impl fmt::Display for WalStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WalStep::Follow => "to follow (streaming from the end of the local WAL)",
            WalStep::Rewind => {
                "after pg_rewind (the local WAL up to the divergence, then the primary's from the switch point)"
            }
        })
    }
}

/// "START WAL LOCATION: X (file F)" of a `backup_label` (written by
/// `pg_rewind` and `pg_basebackup`; PostgreSQL, `xlogbackup.c` /
/// `pg_rewind.c`): `(timeline of F, X)`. `None` when the line is missing
/// or malformed.
pub fn backup_label_start(text: &str) -> Option<(u32, Lsn)> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION: "))?;
    let (lsn, rest) = line.split_once(' ')?;
    let lsn = Lsn::parse_pg(lsn).ok()?;
    let file = rest.strip_prefix("(file ")?.strip_suffix(')')?;
    if file.len() != 24 || !file.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let timeline = u32::from_str_radix(&file[..8], 16).ok()?;
    (timeline > 0).then_some((timeline, lsn))
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "wal", rename_all = "snake_case")]
pub enum WalCheck {
    /// Every segment file from the needed one on is there.
    Held {
        /// The first file needed.
        file: String,
    },
    /// A file the node needs is gone from the primary's `pg_wal`.
    Gone {
        /// The first file needed that is missing.
        file: String,
        /// The oldest file of that timeline the primary still holds
        /// (`None`: none of that timeline).
        oldest: Option<String>,
    },
    /// The primary's files are not known (why).
    Unknown {
        /// Why.
        error: String,
    },
}

impl fmt::Display for WalCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalCheck::Held { file } => write!(f, "the primary holds {file} and the files after it"),
            WalCheck::Gone {
                file,
                oldest: Some(oldest),
            } => write!(
                f,
                "the primary no longer holds WAL segment {file} (its oldest of that timeline is {oldest})"
            ),
            WalCheck::Gone { file, oldest: None } => write!(
                f,
                "the primary no longer holds WAL segment {file} (none of that timeline)"
            ),
            WalCheck::Unknown { error } => write!(
                f,
                "whether the primary still holds that WAL is unknown ({error})"
            ),
        }
    }
}

/// The `(timeline, segment number)` of a complete WAL segment file name
/// (`XLogFromFileName`: exactly 24 hex digits); `None` for any other name
/// (`.partial`, `.history`, `.backup`, a segment number out of range for
/// `segment_size`).
pub fn parse_segment_file_name(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let per_id = (0x1_0000_0000u64 / segment_size.max(1)).max(1);
    let timeline = u32::from_str_radix(&name[..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let within = u64::from_str_radix(&name[16..], 16).ok()?;
    if within >= per_id {
        return None;
    }
    let segno = log.checked_mul(per_id)?.checked_add(within)?;
    Some((timeline, segno))
}

/// Does every segment file a node on `local_timeline` needs from `needed`
/// up to the primary's current segment exist, each on the timeline it is
/// read from ([`file_timeline`]), with no gap?
///
/// A file is held when the primary's `pg_wal` has it, or, for `kept`
/// (the segment files in the local `pg_wal` after `pg_rewind`, row W5),
/// when it is a local file of `local_timeline` before the segment where
/// that timeline ends in the primary's history: `pg_rewind` keeps the
/// target's WAL from the last common checkpoint up to the divergence
/// (PostgreSQL, `src/bin/pg_rewind/filemap.c`, the `keepwal` table;
/// measured on 15.20) and recovery reads `pg_wal` before it streams. Other
/// local files are not counted: past the divergence or past the primary's
/// position at the rewind they may be recycled files that only carry a
/// name.
pub fn check(
    primary: &PrimaryFacts,
    kept: Option<&[SegmentRun]>,
    local_timeline: u32,
    needed: Lsn,
) -> WalCheck {
    let wal = match &primary.wal {
        WalHoldings::Known(w) => w,
        WalHoldings::Unknown(error) => {
            return WalCheck::Unknown {
                error: error.clone(),
            }
        }
    };
    let size = wal.segment_size.max(1);
    let first = segment_of(needed, size);
    let last = segment_of(
        primary.current_lsn.max(Lsn(needed.0.saturating_add(1))),
        size,
    )
    .max(first);
    let chain = chain(primary, local_timeline);
    // Where the file timeline may change: each switch point's segment.
    let switches: Vec<u64> = chain
        .iter()
        .filter_map(|(_, end)| end.map(|e| segment_of(e, size)))
        .collect();
    // The local files counted: `local_timeline`'s, before its end.
    let kept_before = match chain.first() {
        Some((t, Some(end))) if *t == local_timeline => segment_of(*end, size),
        _ => 0,
    };
    let start = file_timeline(primary, local_timeline, first, size);
    let mut segno = first;
    while segno <= last {
        let t = file_timeline(primary, local_timeline, segno, size);
        let run = wal
            .runs
            .iter()
            .copied()
            .find(|r| r.timeline == t && r.first <= segno && segno <= r.last);
        let run_end = match run {
            Some(r) => Some(r.last),
            None => kept
                .filter(|_| t == local_timeline && segno < kept_before)
                .and_then(|k| crate::ports::run_holding(k, t, segno))
                .map(|r| r.last.min(kept_before - 1)),
        };
        let Some(run_end) = run_end else {
            let oldest = wal
                .runs
                .iter()
                .filter(|r| r.timeline == t)
                .map(|r| r.first)
                .min();
            return WalCheck::Gone {
                file: segment_file_name(t, segno, size),
                oldest: oldest.map(|o| segment_file_name(t, o, size)),
            };
        };
        // Go on past the run, or to the next switch segment if sooner (the
        // file timeline changes there).
        let next_switch = switches.iter().copied().filter(|s| *s > segno).min();
        let next = run_end.saturating_add(1);
        let next = next_switch.map_or(next, |s| next.min(s));
        if next <= segno {
            break;
        }
        segno = next;
    }
    WalCheck::Held {
        file: segment_file_name(start, first, size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{segment_runs, PrimaryWal};
    use crate::timeline::HistoryEntry;

    const SEG: u64 = 16 * 1024 * 1024;

    fn primary(timeline: u32, history: &[(u32, u64)], oldest: &[(u32, u64)]) -> PrimaryFacts {
        PrimaryFacts {
            system_id: 1,
            timeline,
            history: history
                .iter()
                .map(|(p, s)| HistoryEntry {
                    parent: *p,
                    switch_point: Lsn(*s),
                })
                .collect(),
            current_lsn: Lsn(0x2000_0000),
            size_bytes: 1,
            wal: WalHoldings::Known(PrimaryWal {
                segment_size: SEG,
                runs: oldest
                    .iter()
                    .map(|(t, o)| SegmentRun {
                        timeline: *t,
                        first: *o,
                        last: 0x1000,
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn the_backup_label_s_start() {
        // As pg_rewind 15 writes it (createBackupLabel).
        let label = "START WAL LOCATION: 0/30000D0 (file 000000020000000000000003)\n\
                     CHECKPOINT LOCATION: 0/3000108\n\
                     BACKUP METHOD: pg_rewind\n\
                     BACKUP FROM: standby\n\
                     START TIME: 2026-12-01 03:50:00 UTC\n";
        assert_eq!(backup_label_start(label), Some((2, Lsn(0x0300_00D0))));
        assert_eq!(backup_label_start("CHECKPOINT LOCATION: 0/3000108\n"), None);
        assert_eq!(
            backup_label_start("START WAL LOCATION: 0/30000D0 (file 0000000200000000000003)\n"),
            None
        );
        assert_eq!(
            backup_label_start("START WAL LOCATION: x (file 000000020000000000000003)\n"),
            None
        );
    }

    #[test]
    fn file_names_follow_postgresql() {
        assert_eq!(segment_file_name(1, 3, SEG), "000000010000000000000003");
        assert_eq!(
            segment_file_name(2, 0x1_05, SEG),
            "000000020000000100000005"
        );
        // 1 GiB segments: 4 per 4 GiB.
        assert_eq!(segment_file_name(3, 9, 1 << 30), "000000030000000200000001");
        assert_eq!(segment_of(Lsn(0x0300_0028), SEG), 3);
    }

    /// The walsender's example (walsender.c): the switch from 4 to 5 at
    /// 0/13002088; segment 0x13 is read from timeline 5's file, 0x12 from 4's.
    #[test]
    fn the_switch_segment_is_the_new_timeline_s_file() {
        let p = primary(5, &[(4, 0x1300_2088)], &[(4, 0x10), (5, 0x13)]);
        assert_eq!(file_timeline(&p, 4, 0x13, SEG), 5);
        assert_eq!(file_timeline(&p, 4, 0x12, SEG), 4);
        assert_eq!(file_timeline(&p, 5, 0x14, SEG), 5);
        // A switch exactly at a segment start: that segment is the new one's.
        let q = primary(2, &[(1, 0x0400_0000)], &[(1, 1), (2, 4)]);
        assert_eq!(file_timeline(&q, 1, 3, SEG), 1);
        assert_eq!(file_timeline(&q, 1, 4, SEG), 2);
    }

    #[test]
    fn held_gone_and_unknown() {
        // Switch 1 → 2 in segment 5; the primary holds 1: 3–4, 2: 5 on.
        let p = primary(2, &[(1, 0x0500_0100)], &[(1, 3), (2, 5)]);
        assert_eq!(
            check(&p, None, 1, Lsn(0x0300_0028)),
            WalCheck::Held {
                file: "000000010000000000000003".into()
            }
        );
        // In the switch segment: only timeline 2's file is needed.
        assert_eq!(
            check(&p, None, 1, Lsn(0x0500_0028)),
            WalCheck::Held {
                file: "000000020000000000000005".into()
            }
        );
        let gone = check(&p, None, 1, Lsn(0x0200_0028));
        assert_eq!(
            gone,
            WalCheck::Gone {
                file: "000000010000000000000002".into(),
                oldest: Some("000000010000000000000003".into()),
            }
        );
        assert!(gone
            .to_string()
            .contains("no longer holds WAL segment 000000010000000000000002"));
        // Only timeline 2's files left (checkpoints removed 1–6).
        let later = primary(2, &[(1, 0x0500_0100)], &[(2, 7)]);
        assert_eq!(
            check(&later, None, 1, Lsn(0x0500_0028)),
            WalCheck::Gone {
                file: "000000020000000000000005".into(),
                oldest: Some("000000020000000000000007".into()),
            }
        );
        assert_eq!(
            check(&later, None, 1, Lsn(0x0400_0000)),
            WalCheck::Gone {
                file: "000000010000000000000004".into(),
                oldest: None,
            }
        );
        // Same timeline.
        let same = primary(1, &[], &[(1, 6)]);
        assert!(matches!(
            check(&same, None, 1, Lsn(0x0600_0000)),
            WalCheck::Held { .. }
        ));
        assert!(matches!(
            check(&same, None, 1, Lsn(0x05FF_FFFF)),
            WalCheck::Gone { .. }
        ));
        let mut unknown = same.clone();
        unknown.wal = WalHoldings::Unknown("permission denied for function pg_ls_dir".into());
        assert!(matches!(
            check(&unknown, None, 1, Lsn(0x0600_0000)),
            WalCheck::Unknown { .. }
        ));
    }

    #[test]
    fn every_timeline_of_the_chain_is_checked() {
        // 1 → 2 in segment 4, 2 → 3 in segment 8; timeline 2's files gone
        // up to 6 although timeline 1's segment 3 is there (not by
        // PostgreSQL's removal, which cuts every timeline at one number,
        // but the check must not assume it).
        let p = primary(
            3,
            &[(1, 0x0400_0100), (2, 0x0800_0100)],
            &[(1, 3), (2, 6), (3, 8)],
        );
        assert_eq!(
            check(&p, None, 1, Lsn(0x0300_0000)),
            WalCheck::Gone {
                file: "000000020000000000000004".into(),
                oldest: Some("000000020000000000000006".into()),
            }
        );
        let ok = primary(
            3,
            &[(1, 0x0400_0100), (2, 0x0800_0100)],
            &[(1, 3), (2, 4), (3, 8)],
        );
        assert!(matches!(
            check(&ok, None, 1, Lsn(0x0300_0000)),
            WalCheck::Held { .. }
        ));
    }

    /// Issue 10, attack finding 4: a file missing between two held ones.
    #[test]
    fn a_gap_in_the_primary_s_pg_wal_is_found() {
        let mut p = primary(3, &[(2, 0x0300_0000)], &[]);
        p.current_lsn = Lsn(0x0600_0100);
        p.wal = WalHoldings::Known(PrimaryWal {
            segment_size: SEG,
            runs: segment_runs(vec![(3, 3), (3, 5), (3, 6)]),
        });
        assert_eq!(
            check(&p, None, 2, Lsn(0x0300_0028)),
            WalCheck::Gone {
                file: "000000030000000000000004".into(),
                oldest: Some("000000030000000000000003".into()),
            }
        );
        // Past the gap: held.
        assert!(matches!(
            check(&p, None, 3, Lsn(0x0500_0000)),
            WalCheck::Held { .. }
        ));
        // The primary's current segment must be there too.
        p.current_lsn = Lsn(0x0700_0100);
        assert_eq!(
            check(&p, None, 3, Lsn(0x0500_0000)),
            WalCheck::Gone {
                file: "000000030000000000000007".into(),
                oldest: Some("000000030000000000000003".into()),
            }
        );
    }

    /// Issue 10, attack finding 1 (measured on 15.20): after pg_rewind the
    /// node replays timeline 2's 03–05 from its own pg_wal (pg_rewind kept
    /// them) and needs only timeline 3's files from the switch on.
    #[test]
    fn files_pg_rewind_kept_count_before_the_switch_only() {
        let mut p = primary(3, &[(2, 0x0600_0000)], &[]);
        p.current_lsn = Lsn(0x0600_1000);
        p.wal = WalHoldings::Known(PrimaryWal {
            segment_size: SEG,
            runs: segment_runs(vec![(3, 6)]),
        });
        let needed = Lsn(0x0303_3B78);
        assert_eq!(
            check(&p, None, 2, needed),
            WalCheck::Gone {
                file: "000000020000000000000003".into(),
                oldest: None,
            }
        );
        let kept = segment_runs(vec![(2, 3), (2, 4), (2, 5), (2, 6), (3, 6)]);
        assert_eq!(
            check(&p, Some(&kept), 2, needed),
            WalCheck::Held {
                file: "000000020000000000000003".into()
            }
        );
        // A kept file missing locally and on the primary: gone.
        let holed = segment_runs(vec![(2, 3), (2, 5)]);
        assert_eq!(
            check(&p, Some(&holed), 2, needed),
            WalCheck::Gone {
                file: "000000020000000000000004".into(),
                oldest: None,
            }
        );
        // Local files past the switch (or of the new timeline) never count:
        // the primary must hold timeline 3's segment 6 on.
        p.wal = WalHoldings::Known(PrimaryWal {
            segment_size: SEG,
            runs: segment_runs(vec![(3, 7)]),
        });
        p.current_lsn = Lsn(0x0700_1000);
        let all_local = segment_runs(vec![(2, 3), (2, 4), (2, 5), (2, 6), (2, 7), (3, 6), (3, 7)]);
        assert_eq!(
            check(&p, Some(&all_local), 2, needed),
            WalCheck::Gone {
                file: "000000030000000000000006".into(),
                oldest: Some("000000030000000000000007".into()),
            }
        );
    }

    #[test]
    fn segment_file_names_parse_and_group() {
        assert_eq!(
            parse_segment_file_name("00000002000000010000000A", SEG),
            Some((2, 0x10A))
        );
        for bad in [
            "00000002000000010000000A.partial",
            "00000002.history",
            "0000000200000001000000",
            "00000002000000010000010A",
            "0000000200000001000000GA",
        ] {
            assert_eq!(parse_segment_file_name(bad, SEG), None, "{bad}");
        }
        assert_eq!(
            segment_runs(vec![(2, 5), (1, 3), (2, 4), (1, 4), (2, 7), (2, 5)]),
            vec![
                SegmentRun {
                    timeline: 1,
                    first: 3,
                    last: 4
                },
                SegmentRun {
                    timeline: 2,
                    first: 4,
                    last: 5
                },
                SegmentRun {
                    timeline: 2,
                    first: 7,
                    last: 7
                },
            ]
        );
    }
}
