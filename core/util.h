// Small helpers shared across rooms: edit distance for "did you mean", glob matching
// for layer names, string joining, and two small system queries (is_file, list_dir,
// process_alive).
// No torch.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

/// Levenshtein distance between two strings.
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate nearest to `name`, or "" when none is close enough to be a plausible typo.
std::string nearest(const std::string& name, const std::vector<std::string>& candidates);

/// ", did you mean 'x'?" or "" — appended to "unknown X 'name'" messages.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

/// Shell-style glob: '*' matches any run of characters, '?' one character.
bool glob_match(const std::string& pattern, const std::string& text);

std::string join(const std::vector<std::string>& parts, const std::string& sep);

/// `s` as an error message quotes it: at most `max` characters, then "... (N characters)".
std::string truncate_for_message(const std::string& s, size_t max = 80);

/// A CSV field: quoted (with doubled quotes) when it holds a comma, a quote or a newline.
std::string csv_quote(const std::string& s);

/// Text for HTML element content or a quoted attribute: & < > " ' escaped.
std::string html_escape(const std::string& s);

/// True when `path` names an existing regular file.
bool is_file(const std::string& path);
/// True when `path` names an existing directory.
bool is_dir(const std::string& path);

/// Splits at `sep`, dropping empty parts ("a,,b" -> {a, b}).
std::vector<std::string> split(const std::string& s, char sep);

/// The names in directory `dir` (without "." and ".."), sorted; nullopt when it cannot be read.
std::optional<std::vector<std::string>> list_dir(const std::string& dir);

/// Whether process `pid` on this host is alive. A zombie is not: a worker killed with its
/// parent is reparented and may never be reaped (e.g. in a container whose init does not
/// reap), yet kill(pid, 0) still succeeds on it.
bool process_alive(int64_t pid);

/// Seconds as m:ss, or h:mm:ss from an hour on (progress lines, ETAs).
std::string format_duration(double seconds);

}  // namespace lowbit
