// A thin RAII layer over SQLite: connection, prepared statement, immediate transaction.
// The tracker room is the only code that includes this (and speaks SQL): the build refuses
// it elsewhere; the rooms above hold a DbHandle (tracker/db_handle.h). Errors become
// StoreError with the database path and SQLite's message.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_SQL
#error "only tracker/ speaks SQL: include tracker/db_handle.h and call the tracker's queries (docs/ARCHITECTURE.md: rooms)"
#endif
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tracker/db_handle.h"

namespace lowbit {

class Statement;

class Db {
 public:
  enum class Mode { kReadOnly, kReadWrite };
  /// Opens `path`. kReadWrite creates it when missing; kReadOnly refuses every write
  /// (and ATTACH) through an authorizer as well as the open flag. A reader on read-only
  /// storage (a read-only mount, an immutable file), where WAL cannot create its `-shm`
  /// file, falls back to an immutable open, or, when a `-wal` file holds changes not yet
  /// merged, to a private copy of the database and its WAL in a temporary directory.
  Db(const std::string& path, Mode mode);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  /// True when the database has table `name` (older schemas lack the newer tables).
  bool has_table(const std::string& name);
  /// True when `table` has a column `column` (read from its CREATE text in sqlite_master,
  /// which ALTER TABLE ADD COLUMN extends; allowed on a read-only connection).
  bool has_column(const std::string& table, const std::string& column);
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void open(const std::string& name, int flags, Mode mode);
  void open_readonly_storage();

  sqlite3* db_ = nullptr;
  std::string path_;
  std::string copy_dir_;  ///< the private copy's directory (read-only storage with a WAL)
};

class Statement {
 public:
  Statement(Db& db, const std::string& sql);
  ~Statement();
  Statement(Statement&& o) noexcept : db_(o.db_), st_(o.st_), tail_(std::move(o.tail_)) { o.st_ = nullptr; }
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int i, const SqlValue& v);
  Statement& bind(int i, int64_t v) { return bind(i, SqlValue(v)); }
  Statement& bind(int i, int v) { return bind(i, SqlValue(int64_t(v))); }
  Statement& bind(int i, double v) { return bind(i, SqlValue(v)); }
  Statement& bind(int i, const std::string& v) { return bind(i, SqlValue(v)); }
  Statement& bind(int i, const char* v) { return bind(i, SqlValue(std::string(v))); }
  /// Steps once; true while a row is available.
  bool step();
  /// Steps to completion and resets (for INSERT/UPDATE).
  void run();
  void reset();
  int columns() const { return sqlite3_column_count(st_); }
  std::string column_name(int i) const { return sqlite3_column_name(st_, i); }
  int64_t get_int(int i) const { return sqlite3_column_int64(st_, i); }
  double get_double(int i) const { return sqlite3_column_double(st_, i); }
  std::string get_text(int i) const;
  bool is_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  SqlValue get(int i) const;
  bool readonly() const { return sqlite3_stmt_readonly(st_) != 0; }
  /// The SQL text after the first statement (what sqlite3_prepare_v2 left unparsed).
  const std::string& tail() const { return tail_; }

 private:
  Db& db_;
  sqlite3_stmt* st_ = nullptr;
  std::string tail_;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back when destroyed without commit(). Immediate:
/// a deferred transaction that reads then writes fails with SQLITE_BUSY whatever the timeout.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace lowbit
