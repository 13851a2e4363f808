// The compact, committed form of a results database (lowbit dump / lowbit restore): every row of
// the tables that hold results and their provenance, as JSON lines, gzip-compressed. A dump
// restored into a new database gives back the same rows, so reports and the results document
// written from the restored database equal those written from the original (docs/RESULTS.md is
// checked that way by make test, from docs/results/suite-runs.jsonl.gz).
//
// The text: line 1 is a header {"lowbit_dump": 1, "schema": N, "tables": {table: [columns]}};
// then one line per row, table by table in a fixed order and rows in key order,
// ["table", [values]]. Reals are written to round-trip exactly; a non-finite real is
// {"real": "inf" | "-inf"} (JSON has no such number).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <cstdint>
#include <map>
#include <string>

namespace lowbit {

struct DumpSummary {
  std::map<std::string, int64_t> rows;  ///< per table
  std::string sha256;                   ///< of the uncompressed text: the data's identity
  int64_t bytes = 0;                    ///< the compressed file's size (0 when nothing written)
};

/// The dump's text of the database at `db_path` (read-only), and its summary.
std::string dump_text(const std::string& db_path, DumpSummary* summary = nullptr);

/// Writes the dump of `db_path` to `out_path` (gzip, atomically).
DumpSummary dump_database(const std::string& db_path, const std::string& out_path);

/// Restores the dump at `dump_path` (gzip or plain) into a new database at `db_path` (refused
/// when it exists), in one transaction; the rows keep their ids. A dump of another schema
/// version is restored column by column by name into this version's schema; a column this
/// version does not have is refused, naming it.
DumpSummary restore_database(const std::string& dump_path, const std::string& db_path);

/// The first 16 hex digits of the sha256 of the dump text of `db_path`: the same for a
/// database and its restored dump (unlike the file's own sha256).
std::string data_digest(const std::string& db_path);

}  // namespace lowbit
