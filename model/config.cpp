#include "model/config.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "model/detail/conf_values.h"
#include "model/files.h"
#include "model/text.h"

namespace ipsecd::model {
namespace {

constexpr std::string_view kDefaultConn = "%default";
constexpr size_t kMaxFiles = 1000;  // files read for one configuration, includes counted

struct RawConn {
  std::string name;
  uint32_t file = 0;
  uint32_t line = 0;
  std::vector<Setting> settings;
  struct AlsoRef {
    std::string name;
    uint32_t file;
    uint32_t line;
    bool flip;  // alsoflip=: the referenced conn's left and right swapped
  };
  std::vector<AlsoRef> also;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// Lines of ipsec.conf lose every blank around them, CR included.
std::string_view trim(std::string_view s) {
  return text::trim(s, text::kLineBlanks);
}

// Splits off the first whitespace-delimited word.
std::string_view next_word(std::string_view& s) {
  s = trim(s);
  size_t end = 0;
  while (end < s.size() && !is_space(s[end])) {
    ++end;
  }
  std::string_view word = s.substr(0, end);
  s = trim(s.substr(end));
  return word;
}

// A '#' starts a comment at the start of a token: "dpddelay=2   # fast" but
// not "leftid=@#0a0b" (a key id).
std::string_view strip_comment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '#' && (i == 0 || is_space(s[i - 1]))) {
      return s.substr(0, i);
    }
  }
  return s;
}

std::string dirname_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Position of the first whitespace outside {...}, which would split an unquoted
// value into two tokens; npos when there is none.
size_t unbraced_space(std::string_view v) {
  int depth = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '{') {
      ++depth;
    } else if (v[i] == '}' && depth > 0) {
      --depth;
    } else if (depth == 0 && is_space(v[i])) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

class Parser {
 public:
  Parser(Config& config, const ParseOptions& options) : config_(config), options_(options) {}

  void parse_file(const std::string& path, uint32_t from_file, uint32_t from_line, int depth) {
    Result<std::string> read = read_file(path, kMaxConfigFileBytes);
    if (!read) {
      const std::string& why = read.error();
      if (depth == 0) {
        config_.diagnostics.error(path, 0, "cannot read configuration: " + why);
      } else {
        error(from_file, from_line, "cannot read included file " + path + ": " + why);
      }
      return;
    }
    parse_text(read.value(), path, dirname_of(path), from_file, from_line, depth);
  }

  void parse_text(std::string_view text, const std::string& name, const std::string& base_dir,
                  uint32_t from_file, uint32_t from_line, int depth) {
    std::string identity = file_identity(name);
    for (const std::string& open : open_files_) {
      if (open == identity) {
        error(from_file, from_line, "include cycle: " + name + " includes itself");
        return;
      }
    }
    auto file = static_cast<uint32_t>(config_.files.size());
    config_.files.push_back(name);
    open_files_.push_back(identity);

    uint32_t line_no = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) {
        nl = text.size();
      }
      std::string_view line = text.substr(pos, nl - pos);
      ++line_no;
      parse_line(line, file, line_no, base_dir, depth);
      if (nl == text.size()) {
        break;
      }
      pos = nl + 1;
    }
    open_files_.pop_back();
  }

  std::vector<RawConn>& conns() { return conns_; }
  std::vector<RawConn>& defaults() { return defaults_; }
  std::vector<Setting>& setup() { return setup_; }

 private:
  enum class Current { kNone, kSetup, kConn, kDefault };

  void error(uint32_t file, uint32_t line, std::string message) {
    config_.diagnostics.error(config_.files[file], static_cast<int>(line), std::move(message));
  }
  void warning(uint32_t file, uint32_t line, std::string message) {
    config_.diagnostics.warning(config_.files[file], static_cast<int>(line), std::move(message));
  }

  // Same file reached by two names must count as one for cycle detection.
  static std::string file_identity(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    }
    return path;
  }

  void parse_line(std::string_view line, uint32_t file, uint32_t line_no,
                  const std::string& base_dir, int depth) {
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    std::string_view body = trim(line);
    if (body.empty() || body.front() == '#') {
      return;
    }
    if (is_space(line.front())) {
      parse_setting(body, file, line_no);
      return;
    }
    std::string_view rest = strip_comment(body);
    std::string_view word = next_word(rest);
    if (word == "conn") {
      std::string_view name;
      if (!rest.empty() && rest.front() == '"') {
        size_t close = rest.find('"', 1);
        if (close == std::string_view::npos) {
          error(file, line_no, "unterminated quoted conn name");
          current_ = Current::kNone;
          return;
        }
        name = rest.substr(1, close - 1);
        rest = trim(rest.substr(close + 1));
      } else {
        name = next_word(rest);
      }
      if (name.empty()) {
        error(file, line_no, "'conn' needs a name: conn NAME");
        current_ = Current::kNone;
        return;
      }
      if (!rest.empty()) {
        error(file, line_no,
              "unexpected '" + std::string(rest) + "' after 'conn " + std::string(name) +
                  "'; settings go on the following lines, indented");
      }
      start_conn(name, file, line_no);
    } else if (word == "config") {
      std::string_view what = next_word(rest);
      if (what != "setup" || !rest.empty()) {
        error(file, line_no, "expected 'config setup'");
        current_ = Current::kNone;
        return;
      }
      current_ = Current::kSetup;
    } else if (word == "include") {
      std::string_view target = trim(rest);
      if (target.size() >= 2 && target.front() == '"' && target.back() == '"') {
        target = target.substr(1, target.size() - 2);
      }
      if (target.empty()) {
        error(file, line_no, "'include' needs a file name or pattern");
        return;
      }
      current_ = Current::kNone;
      include(std::string(target), file, line_no, base_dir, depth);
      // Settings after an include need a new section header, as in libreswan.
      current_ = Current::kNone;
    } else if (word == "version") {
      // "version 2" heads old FreeS/WAN-era files; it carries no meaning.
    } else {
      error(file, line_no,
            "unexpected '" + std::string(word) +
                "' at the start of a line: expected 'conn NAME', 'config setup' or "
                "'include FILE' (settings must be indented)");
      current_ = Current::kNone;
    }
  }

  void start_conn(std::string_view name, uint32_t file, uint32_t line_no) {
    if (name == kDefaultConn) {
      defaults_.push_back({std::string(name), file, line_no, {}, {}});
      current_ = Current::kDefault;
      return;
    }
    auto [it, fresh] = conn_index_.emplace(std::string(name), conns_.size());
    if (!fresh) {
      const RawConn& first = conns_[it->second];
      error(file, line_no,
            "conn " + std::string(name) + " is already defined at " + config_.files[first.file] +
                ":" + std::to_string(first.line));
      current_ = Current::kNone;
      return;
    }
    conns_.push_back({std::string(name), file, line_no, {}, {}});
    current_ = Current::kConn;
  }

  void include(const std::string& pattern, uint32_t file, uint32_t line_no,
               const std::string& base_dir, int depth) {
    if (depth + 1 > options_.max_include_depth) {
      error(file, line_no,
            "include nesting deeper than " + std::to_string(options_.max_include_depth) +
                " levels at " + pattern);
      return;
    }
    std::string path = pattern;
    if (path.front() == '/') {
      path = options_.rootdir + path;
    } else {
      path = base_dir + "/" + path;
    }
    glob_t g{};
    int rc = ::glob(path.c_str(), 0, nullptr, &g);
    std::unique_ptr<glob_t, void (*)(glob_t*)> guard(&g, ::globfree);
    if (rc == GLOB_NOMATCH) {
      // A pattern that matches nothing is fine (an empty conf.d); a plain
      // file name that is missing is a mistake.
      if (!has_glob_chars(pattern)) {
        error(file, line_no, "included file " + pattern + " does not exist");
      }
      return;
    }
    if (rc != 0) {
      error(file, line_no, "cannot expand include pattern " + pattern);
      return;
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      // Files that include each other by glob could otherwise be read a
      // factorial number of times within the depth limit.
      if (config_.files.size() >= kMaxFiles) {
        error(
            file, line_no,
            "more than " + std::to_string(kMaxFiles) + " files read through include at " + pattern);
        return;
      }
      parse_file(g.gl_pathv[i], file, line_no, depth + 1);
    }
  }

  void parse_setting(std::string_view body, uint32_t file, uint32_t line_no) {
    size_t eq = body.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      error(file, line_no,
            "expected KEYWORD=VALUE, got '" + std::string(strip_comment(body)) + "'");
      return;
    }
    std::string_view key = trim(body.substr(0, eq));
    std::string_view raw = trim(body.substr(eq + 1));
    std::string value;
    if (!raw.empty() && raw.front() == '"') {
      // libreswan has no escapes inside quotes: a backslash is literal.
      size_t close = raw.find('"', 1);
      if (close != std::string_view::npos) {
        value = std::string(raw.substr(1, close - 1));
      }
      if (close == std::string_view::npos) {
        error(file, line_no, "unterminated quoted value for " + std::string(key));
        return;
      }
      std::string_view after = trim(raw.substr(close + 1));
      if (!after.empty() && after.front() != '#') {
        error(file, line_no,
              "unexpected '" + std::string(after) + "' after the quoted value of " +
                  std::string(key));
        return;
      }
    } else {
      value = std::string(trim(strip_comment(raw)));
      if (size_t space = unbraced_space(value); space != std::string::npos) {
        error(file, line_no,
              "value of " + std::string(key) + " has a space before '" +
                  std::string(trim(std::string_view(value).substr(space))) +
                  "'; put the whole value in double quotes");
        return;
      }
    }
    if (value.empty()) {
      // An empty value leaves the keyword unset, as in libreswan.
      return;
    }

    if (current_ == Current::kNone) {
      error(file, line_no,
            "setting " + std::string(key) + " is outside of any 'config setup' or 'conn' section");
      return;
    }
    Section section = current_ == Current::kSetup ? Section::kSetup : Section::kConn;
    detail::Interpretation it = detail::interpret(key, section, value);
    if (it.verdict == detail::Verdict::kIgnored) {
      warning(file, line_no, std::move(it.message));
      return;
    }
    if (it.verdict == detail::Verdict::kError) {
      error(file, line_no, std::move(it.message));
      return;
    }
    if (!it.warning.empty()) {
      warning(file, line_no, std::move(it.warning));
    }
    const Keyword& canonical = keyword(it.match.id);
    if (canonical.kind == ValueKind::kAlso) {
      auto& also = current_raw().also;
      for (std::string_view rest = value; !rest.empty();) {
        std::string_view name = next_word(rest);
        also.push_back({std::string(name), file, line_no, canonical.name == "alsoflip"});
      }
      return;
    }
    if (canonical.sided && it.match.side == Side::kNone) {
      add_setting({it.match.id, Side::kLeft, value, file, line_no});
      add_setting({it.match.id, Side::kRight, std::move(value), file, line_no});
      return;
    }
    add_setting({it.match.id, it.match.side, std::move(value), file, line_no});
  }

  RawConn& current_raw() {
    return current_ == Current::kDefault ? defaults_.back() : conns_.back();
  }

  void add_setting(Setting s) {
    std::vector<Setting>& list = current_ == Current::kSetup ? setup_ : current_raw().settings;
    const Keyword& kw = keyword(s.keyword);
    for (Setting& existing : list) {
      if (existing.keyword == s.keyword && existing.side == s.side) {
        if (kw.has(kw::kRepeatable)) {
          existing.value += " " + s.value;
          return;
        }
        std::string msg = kw.spelled(s.side) + " is set twice in this section (first at line " +
                          std::to_string(existing.line) + ")";
        if (current_ == Current::kConn) {
          error(s.file, s.line, msg + "; remove one of them");
          return;
        }
        // config setup and %default: the later value wins, as in libreswan.
        warning(s.file, s.line, msg + "; the later value is used");
        existing = std::move(s);
        return;
      }
    }
    list.push_back(std::move(s));
  }

  Config& config_;
  const ParseOptions& options_;
  Current current_ = Current::kNone;
  std::vector<RawConn> conns_;
  std::vector<RawConn> defaults_;
  std::vector<Setting> setup_;
  std::unordered_map<std::string, size_t> conn_index_;
  std::vector<std::string> open_files_;
};

// Folds also= and %default into each conn: a conn's own settings win, then
// those of the conns it names with also= (in order, depth first), then
// %default's.
class Resolver {
 public:
  Resolver(Config& config, std::vector<RawConn>& conns, std::vector<RawConn>& defaults)
      : config_(config), conns_(conns), defaults_(defaults) {
    index_.reserve(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
      index_.emplace(conns[i].name, i);
    }
  }

  void resolve_all(bool keep_ignored) {
    config_.conns.reserve(conns_.size());
    static const KeywordId auto_id = *keyword_id("auto", Section::kConn);
    for (RawConn& raw : conns_) {
      ConnSpec spec;
      spec.name = raw.name;
      spec.file = raw.file;
      spec.line = raw.line;
      set_.reset();
      stack_.clear();
      merged_.clear();
      merge(raw, spec, false);
      for (const RawConn& def : defaults_) {
        merge(def, spec, false);
      }
      std::sort(spec.settings.begin(), spec.settings.end(), [](const Setting& a, const Setting& b) {
        return a.keyword != b.keyword ? a.keyword < b.keyword : a.side < b.side;
      });
      if (!keep_ignored) {
        const Setting* a = spec.find(auto_id);
        if (a != nullptr && a->value == "ignore") {
          continue;
        }
      }
      config_.conns.push_back(std::move(spec));
    }
  }

 private:
  static Side flipped(Side s) {
    return s == Side::kLeft ? Side::kRight : s == Side::kRight ? Side::kLeft : s;
  }

  void merge(const RawConn& from, ConnSpec& into, bool flip) {
    for (const Setting& s : from.settings) {
      Side side = flip ? flipped(s.side) : s.side;
      size_t bit = size_t{s.keyword} * 3 + static_cast<size_t>(side);
      if (set_.test(bit)) {
        if (keyword(s.keyword).has(kw::kRepeatable)) {
          for (Setting& existing : into.settings) {
            if (existing.keyword == s.keyword && existing.side == side) {
              existing.value += " " + s.value;
            }
          }
        }
        continue;
      }
      set_.set(bit);
      Setting copy = s;
      copy.side = side;
      into.settings.push_back(std::move(copy));
    }
    stack_.push_back(&from);
    for (const RawConn::AlsoRef& ref : from.also) {
      auto it = index_.find(ref.name);
      if (it == index_.end()) {
        error(ref, "also=" + ref.name + ": no conn named " + ref.name + " is defined");
        continue;
      }
      const RawConn& target = conns_[it->second];
      if (std::find(stack_.begin(), stack_.end(), &target) != stack_.end()) {
        error(ref, "also=" + ref.name + " forms a cycle through conn " + into.name);
        continue;
      }
      if (stack_.size() > 32) {
        error(ref, "also= chain deeper than 32 conns");
        continue;
      }
      if (std::find(into.also.begin(), into.also.end(), ref.name) == into.also.end()) {
        into.also.push_back(ref.name);
      }
      // Reached again through another path (a diamond): it has nothing left to
      // give, since the first definition wins. Skipping it keeps resolution
      // linear instead of exponential in the depth of such graphs.
      std::pair<const RawConn*, bool> key{&target, flip != ref.flip};
      if (std::find(merged_.begin(), merged_.end(), key) != merged_.end()) {
        continue;
      }
      merged_.push_back(key);
      merge(target, into, flip != ref.flip);
    }
    stack_.pop_back();
  }

  void error(const RawConn::AlsoRef& ref, std::string msg) {
    // One report per bad reference, however many conns reach it.
    std::string key = std::to_string(ref.file) + ":" + std::to_string(ref.line) + ":" + ref.name;
    if (!reported_.emplace(std::move(key), true).second) {
      return;
    }
    config_.diagnostics.error(config_.files[ref.file], static_cast<int>(ref.line), std::move(msg));
  }

  Config& config_;
  std::vector<RawConn>& conns_;
  std::vector<RawConn>& defaults_;
  std::unordered_map<std::string_view, size_t> index_;
  std::unordered_map<std::string, bool> reported_;
  std::bitset<1024> set_;
  std::vector<const RawConn*> stack_;
  std::vector<std::pair<const RawConn*, bool>> merged_;  // also= targets merged into this conn
};

Config finish(Config config, Parser& parser, const ParseOptions& options) {
  config.setup = std::move(parser.setup());
  std::sort(config.setup.begin(), config.setup.end(),
            [](const Setting& a, const Setting& b) { return a.keyword < b.keyword; });
  Resolver resolver(config, parser.conns(), parser.defaults());
  resolver.resolve_all(options.keep_ignored);
  return config;
}

bool needs_quotes(std::string_view v) {
  return v.empty() || v.find_first_of(" \t#\"") != std::string_view::npos;
}

void append_text_setting(std::string& out, const Setting& s) {
  out += '\t';
  out += keyword(s.keyword).spelled(s.side);
  out += '=';
  std::string v = canonical_value(s);
  if (needs_quotes(v)) {
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  } else {
    out += v;
  }
  out += '\n';
}

}  // namespace

const Setting* ConnSpec::find(KeywordId kw, Side side) const {
  auto it = std::lower_bound(settings.begin(), settings.end(), std::pair{kw, side},
                             [](const Setting& s, const std::pair<KeywordId, Side>& key) {
                               return s.keyword != key.first ? s.keyword < key.first
                                                             : s.side < key.second;
                             });
  if (it != settings.end() && it->keyword == kw && it->side == side) {
    return &*it;
  }
  return nullptr;
}

std::string_view ConnSpec::get(std::string_view keyword_name, Side side) const {
  std::optional<KeywordId> id = keyword_id(keyword_name, Section::kConn);
  if (!id) {
    return {};
  }
  const Setting* s = find(*id, side);
  return s != nullptr ? std::string_view(s->value) : std::string_view();
}

const ConnSpec* Config::find_conn(std::string_view name) const {
  for (const ConnSpec& c : conns) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

std::string_view Config::setup_value(std::string_view keyword_name) const {
  std::optional<KeywordId> id = keyword_id(keyword_name, Section::kSetup);
  if (!id) {
    return {};
  }
  for (const Setting& s : setup) {
    if (s.keyword == *id) {
      return s.value;
    }
  }
  return {};
}

Config parse_config_file(const std::string& path, const ParseOptions& options) {
  Config config;
  Parser parser(config, options);
  parser.parse_file(path, 0, 0, 0);
  return finish(std::move(config), parser, options);
}

Config parse_config_text(std::string_view text, const std::string& name,
                         const ParseOptions& options, const std::string& base_dir) {
  Config config;
  Parser parser(config, options);
  parser.parse_text(text, name, base_dir, 0, 0, 0);
  return finish(std::move(config), parser, options);
}

std::string canonical_value(const Setting& setting) {
  return detail::canonical_value(keyword(setting.keyword), setting.value);
}

std::string format_config_text(const Config& config) {
  std::string out = "config setup\n";
  for (const Setting& s : config.setup) {
    append_text_setting(out, s);
  }
  for (const ConnSpec& c : config.conns) {
    out += "\nconn ";
    out += c.name;
    out += '\n';
    for (const std::string& a : c.also) {
      out += "\t#also = " + a + "\n";
    }
    for (const Setting& s : c.settings) {
      append_text_setting(out, s);
    }
  }
  return out;
}

std::string format_conn_text(const ConnSpec& conn) {
  std::string out = "conn " + conn.name + "\n";
  for (const Setting& s : conn.settings) {
    append_text_setting(out, s);
  }
  return out;
}

std::string format_config_json(const Config& config) {
  auto append_settings = [](std::string& out, const std::vector<Setting>& settings) {
    out += '{';
    for (size_t i = 0; i < settings.size(); ++i) {
      out += i == 0 ? "" : ", ";
      out += text::json_quote(keyword(settings[i].keyword).spelled(settings[i].side));
      out += ": ";
      out += text::json_quote(canonical_value(settings[i]));
    }
    out += '}';
  };
  std::string out = "{\"config setup\": ";
  append_settings(out, config.setup);
  out += ", \"conns\": {";
  for (size_t i = 0; i < config.conns.size(); ++i) {
    out += i == 0 ? "" : ", ";
    out += text::json_quote(config.conns[i].name);
    out += ": ";
    append_settings(out, config.conns[i].settings);
  }
  out += "}}\n";
  return out;
}

}  // namespace ipsecd::model
