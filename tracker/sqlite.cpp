#include "tracker/sqlite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include <cctype>

#include "core/error.h"
#include "core/file_io.h"
#include "core/util.h"

namespace lowbit {

namespace {
// Refuses every statement that could change a database or attach another one.
int readonly_authorizer(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      return SQLITE_OK;  // the connection is opened read-only; pragmas cannot write the file
    case SQLITE_TRANSACTION:
      return SQLITE_OK;  // BEGIN ... COMMIT: one snapshot for several reads (lowbit dump)
    default:
      return SQLITE_DENY;
  }
}
}  // namespace

namespace {

// `path` as an SQLite URI path: the characters a URI gives meaning to are %-escaped.
std::string uri_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f)
      out += fmt::format("%{:02X}", c);
    else
      out += char(c);
  }
  return out;
}

bool storage_is_readonly(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
}

int64_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : -1;
}

}  // namespace

Db::Db(const std::string& path, Mode mode) : path_(path) {
  if (is_dir(path))  // SQLite would say only "disk I/O error"
    throw StoreError(path + ": is a directory, not a results database; pass the database file "
                            "(e.g. --db " + (path.empty() || path.back() == '/' ? path : path + "/") +
                         "results.db)",
                     true);
  int flags =
      mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  open(path, flags, mode);
  if (mode == Mode::kReadWrite) {
    exec("PRAGMA foreign_keys = ON");
    return;
  }
  // A WAL database needs its -shm file even to be read; on read-only storage it cannot be
  // created, and the first read fails. Fall back rather than refuse.
  if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
          SQLITE_OK &&
      storage_is_readonly(sqlite3_extended_errcode(db_)) && ::access(path.c_str(), R_OK) == 0)
    open_readonly_storage();
}

void Db::open(const std::string& name, int flags, Mode mode) {
  if (db_) sqlite3_close_v2(db_), db_ = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    if (mode == Mode::kReadOnly)
      throw StoreError(path_ + ": cannot open results database (" + msg + "); check --db", true);
    throw StoreError(
        path_ + ": cannot create or open results database (" + msg +
            "); check that the directory exists and is writable, or choose another --db",
        true);
  }
  sqlite3_busy_timeout(db_, 30000);
  sqlite3_extended_result_codes(db_, 1);
  if (mode == Mode::kReadOnly) sqlite3_set_authorizer(db_, readonly_authorizer, nullptr);
}

void Db::open_readonly_storage() {
  const std::string wal = path_ + "-wal";
  if (file_size(wal) <= 0) {
    // Nothing unmerged: no one can be writing a file on read-only storage, so the database
    // may be read as immutable (no locks, no -shm).
    open("file:" + uri_path(path_) + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
         Mode::kReadOnly);
    return;
  }
  // The -wal holds committed changes that an immutable open would not see: read a private
  // copy of both, in a directory where SQLite can create the -shm.
  char tmpl[] = "/tmp/lowbit_readonly_XXXXXX";
  if (!::mkdtemp(tmpl))
    throw StoreError(path_ + ": on read-only storage with a -wal file, and no temporary directory "
                             "to read a copy in (set TMPDIR)");
  copy_dir_ = tmpl;
  const std::string copy = copy_dir_ + "/results.db";
  std::ifstream in_db(path_, std::ios::binary), in_wal(wal, std::ios::binary);
  std::ofstream(copy, std::ios::binary) << in_db.rdbuf();
  std::ofstream(copy + "-wal", std::ios::binary) << in_wal.rdbuf();
  open(copy, SQLITE_OPEN_READONLY, Mode::kReadOnly);
  if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK)
    fail("cannot read a copy of the database from read-only storage");
}

void DbCloser::operator()(Db* db) const { delete db; }

Db::~Db() {
  sqlite3_close_v2(db_);
  if (!copy_dir_.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"})
      ::unlink((copy_dir_ + "/results.db" + suffix).c_str());
    ::rmdir(copy_dir_.c_str());
  }
}

void Db::fail(const std::string& what) const {
  int code = sqlite3_extended_errcode(db_);
  std::string msg = sqlite3_errmsg(db_);
  bool bad_input = code == SQLITE_READONLY || (code & 0xff) == SQLITE_READONLY ||
                   code == SQLITE_AUTH || (code & 0xff) == SQLITE_CANTOPEN ||
                   (code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_ERROR;
  if ((code & 0xff) == SQLITE_FULL) throw DiskFullError(disk_full_message(path_));
  std::string hint;
  if ((code & 0xff) == SQLITE_READONLY)
    hint = "; the database or its directory is read-only: choose a writable --db";
  else if ((code & 0xff) == SQLITE_BUSY)
    hint = "; another process holds the database locked for over 30 s";
  else if ((code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_CORRUPT)
    hint = "; the file is not a lowbit results database";
  throw StoreError(path_ + ": " + what + ": " + msg + hint, bad_input);
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    fail("cannot execute " + sql.substr(0, sql.find_first_of("(\n")));
  }
}

Statement Db::prepare(const std::string& sql) { return Statement(*this, sql); }

bool Db::has_table(const std::string& name) {
  auto st = prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  st.bind(1, name);
  return st.step() && st.get_int(0) > 0;
}

bool Db::has_column(const std::string& table, const std::string& column) {
  auto st = prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?");
  st.bind(1, table);
  if (!st.step()) return false;
  const std::string sql = st.get_text(0);
  for (size_t p = 0; (p = sql.find(column, p)) != std::string::npos; p += column.size()) {
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    bool starts = p == 0 || !ident(sql[p - 1]), ends = p + column.size() >= sql.size() || !ident(sql[p + column.size()]);
    if (starts && ends) return true;
  }
  return false;
}

Statement::Statement(Db& db, const std::string& sql) : db_(db) {
  const char* rest = nullptr;
  const int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), int(sql.size()), &st_, &rest);
  if (rc == SQLITE_OK && rest) tail_ = std::string(rest, size_t(sql.c_str() + sql.size() - rest));
  if (rc != SQLITE_OK) {
    if (sqlite3_errcode(db.handle()) == SQLITE_AUTH)
      throw StoreError(
          "refused: queries are read-only (no INSERT, UPDATE, DELETE, DROP, CREATE, ATTACH or "
          "PRAGMA writes)",
          true);
    db.fail("bad SQL");
  }
}

Statement::~Statement() { sqlite3_finalize(st_); }

Statement& Statement::bind(int i, const SqlValue& v) {
  int rc;
  if (std::holds_alternative<std::monostate>(v))
    rc = sqlite3_bind_null(st_, i);
  else if (auto* x = std::get_if<int64_t>(&v))
    rc = sqlite3_bind_int64(st_, i, *x);
  else if (auto* d = std::get_if<double>(&v))
    rc = sqlite3_bind_double(st_, i, *d);
  else {
    auto& s = std::get<std::string>(v);
    rc = sqlite3_bind_text(st_, i, s.data(), int(s.size()), SQLITE_TRANSIENT);
  }
  if (rc != SQLITE_OK) db_.fail("cannot bind parameter");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail("query failed");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::string Statement::get_text(int i) const {
  auto p = sqlite3_column_text(st_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(st_, i)))
           : std::string();
}

SqlValue Statement::get(int i) const {
  switch (sqlite3_column_type(st_, i)) {
    case SQLITE_INTEGER:
      return get_int(i);
    case SQLITE_FLOAT:
      return get_double(i);
    case SQLITE_NULL:
      return std::monostate{};
    default:
      return get_text(i);
  }
}

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

std::string sql_value_text(const SqlValue& v, bool full) {
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (auto* x = std::get_if<int64_t>(&v)) return std::to_string(*x);
  if (auto* d = std::get_if<double>(&v))
    return full ? fmt::format("{}", *d) : fmt::format("{:.6g}", *d);
  return std::get<std::string>(v);
}

}  // namespace lowbit
