// Shared fixtures: temporary directories, IDX/CIFAR files written by the tests, tiny
// synthetic configs, and running the `lowbit` binary to check exit codes and messages.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zlib.h>

#include "core/config/run_config.h"
#include "core/file_io.h"

namespace lowbit::test {

/// A fresh directory under /tmp, removed at destruction.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

inline std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

/// IDX images: n images of h x w, pixel (i, r, c) = (i + r + c) % 256.
inline std::string idx_images(uint32_t n, uint32_t h, uint32_t w) {
  std::string s = be32(0x803) + be32(n) + be32(h) + be32(w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < h; ++r)
      for (uint32_t c = 0; c < w; ++c) s += char((i + r + c) % 256);
  return s;
}

/// IDX labels: label i = i % 10.
inline std::string idx_labels(uint32_t n) {
  std::string s = be32(0x801) + be32(n);
  for (uint32_t i = 0; i < n; ++i) s += char(i % 10);
  return s;
}

/// Writes a small Fashion-MNIST-shaped dataset (gzip) into `dir`.
inline void write_mnist_dir(const std::string& dir, uint32_t n_train = 64, uint32_t n_test = 32) {
  write_gz(dir + "/train-images-idx3-ubyte.gz", idx_images(n_train, 28, 28));
  write_gz(dir + "/train-labels-idx1-ubyte.gz", idx_labels(n_train));
  write_gz(dir + "/t10k-images-idx3-ubyte.gz", idx_images(n_test, 28, 28));
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", idx_labels(n_test));
}

/// A tiny, fast run on synthetic data: 8x8 images, 4 classes, a few batches.
inline RunConfig tiny_config() {
  RunConfig c;
  c.data.name = "synthetic";
  c.data.synthetic_train = 96;
  c.data.synthetic_test = 48;
  c.data.synthetic_size = 8;
  c.data.synthetic_classes = 4;
  c.data.synthetic_noise = 0.3;
  c.batch_size = 32;
  c.eval_batch_size = 48;
  c.epochs = 2;
  c.optim.lr = 0.05;
  return c;
}

/// The message of the E that `f` throws, or "(no error)".
template <typename E, typename F>
std::string error_message(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

/// Writes experiment `name` into `path`: `train` synthetic 8x8 images of 4 classes (test
/// `train / 2`), batch 32, `epochs` epochs, plus `extra` ("\"variants\": {...}, \"seeds\": 2"),
/// the JSON members that make each test's grid its own.
inline void write_tiny_experiment(const std::string& path, const std::string& name, int train,
                                  int epochs, const std::string& extra) {
  std::ofstream(path) << "{\"name\": \"" << name << "\",\n"
                      << R"( "base": {"data": {"name": "synthetic", "synthetic": {"train": )" << train
                      << R"(, "test": )" << train / 2
                      << R"(, "size": 8, "classes": 4}}, "batch_size": 32, "epochs": )" << epochs
                      << "},\n " << extra << "}";
}

struct RunOutput {
  int code;
  std::string out;  ///< stdout and stderr together
};

/// Runs a shell command line; captures its stdout and stderr together and its exit code.
inline RunOutput run_shell(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

/// Runs the lowbit binary with `args` (a shell-quoted string); captures output and exit code.
inline RunOutput run_lowbit(const std::string& args) { return run_shell(std::string(LOWBIT_BINARY) + " " + args); }

/// Compiles the LaTeX table `table` as a paper would \input it (article, booktabs) from the
/// document `doc` it writes, with pdflatex in doc's folder; out: the log.
inline RunOutput compile_latex_table(const std::string& doc, const std::string& table) {
  write_file(doc, "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{" + table +
                      "}\n\\end{document}\n");
  const std::string dir = doc.substr(0, doc.rfind('/'));
  auto r = run_shell("cd '" + dir + "' && pdflatex -interaction=nonstopmode -halt-on-error '" + doc + "' > '" + doc +
                     ".log' 2>&1");
  std::ifstream in(doc + ".log");
  r.out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

/// Checks `source` with the project's compiler as the room `room` would compile it (its
/// generated lowbit_room.h); `include_first`: a folder searched before the source tree.
inline RunOutput compile_in_room(const std::string& room, const std::string& source,
                                 const std::string& include_first = "") {
  return run_shell(std::string(LOWBIT_CXX) + " -std=c++17 -fsyntax-only " +
                   (include_first.empty() ? "" : "-I" + include_first + " ") + "-I" + LOWBIT_SOURCE_DIR +
                   " -I" + LOWBIT_ROOMS_DIR + "/" + room + " " + source);
}

/// The whole content of a file ("" when it cannot be read).
inline std::string slurp(const std::string& path) { return read_file(path); }

/// The last non-empty line of `s`.
inline std::string last_line(const std::string& s) {
  size_t end = s.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = s.rfind('\n', end);
  return s.substr(start == std::string::npos ? 0 : start + 1,
                  end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace lowbit::test
