#include "model/yaml_spec.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "model/detail/conf_values.h"
#include "model/files.h"

namespace ipsecd::model {
namespace {

// yaml-cpp 0.7's document loop does not consume a ',' that opens a document
// (",", "&a ,", "!t ,"): HandleNextDocument reports a document without moving,
// and YAML::LoadAll loops for ever building empty nodes. This pass walks the
// documents with events only and stops where one begins where the last began.
class DocumentStarts : public YAML::EventHandler {
 public:
  // The position of a document that did not move the parser, if one did not.
  std::optional<YAML::Mark> stalled;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (started_ && mark.pos == last_.pos) {
      stalled = mark;
    }
    started_ = true;
    last_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool started_ = false;
  YAML::Mark last_;
};

// Throws YAML::ParserException where yaml-cpp would stall; other syntax
// errors are left to YAML::LoadAll, which reports them the same way.
void check_documents_advance(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (parser.HandleNextDocument(starts)) {
    if (starts.stalled) {
      throw YAML::ParserException(*starts.stalled,
                                  "',' outside a flow collection ([...] or {...})");
    }
  }
}

uint32_t line_of(const YAML::Node& n) {
  return n.Mark().line >= 0 ? static_cast<uint32_t>(n.Mark().line + 1) : 0;
}

class SpecReader {
 public:
  explicit SpecReader(Config& config) : config_(config) {}

  void read_document(const YAML::Node& doc) {
    if (doc.IsNull()) {
      return;  // an empty document between two '---'
    }
    if (!doc.IsMap()) {
      error(doc, "a document must be a mapping with apiVersion, kind, metadata and spec");
      return;
    }
    std::string api = scalar(doc, "apiVersion");
    std::string kind = scalar(doc, "kind");
    if (kind != kYamlKind) {
      error(doc, "kind must be " + std::string(kYamlKind) + ", not '" + kind + "'");
      return;
    }
    if (api != kYamlApiVersion) {
      error(doc, "apiVersion must be " + std::string(kYamlApiVersion) + ", not '" + api + "'");
      return;
    }
    for (const auto& field : doc) {
      std::string key = field.first.as<std::string>();
      if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "spec") {
        error(field.first, "unknown field " + key + " (expected apiVersion, kind, metadata, spec)");
      }
    }
    const YAML::Node meta = doc["metadata"];
    std::string name = meta && meta.IsMap() ? scalar(meta, "name") : "";
    if (name.empty()) {
      error(doc, "metadata.name is required");
      return;
    }
    if (!names_.insert(name).second) {
      error(meta, "connection " + name + " is defined twice");
      return;
    }
    const YAML::Node spec = doc["spec"];
    if (!spec || !spec.IsMap()) {
      error(doc, "spec is required and must be a mapping");
      return;
    }
    ConnSpec conn;
    conn.name = name;
    conn.file = 0;
    conn.line = line_of(doc);
    for (const auto& field : spec) {
      std::string key = field.first.as<std::string>();
      if (key == "left" || key == "right") {
        read_side(field.second, key, conn);
        continue;
      }
      if (key == "also" || key == "alsoflip") {
        error(field.first, key + " is not available in YAML specs; write the settings out");
        continue;
      }
      add(conn, key, field.first, field.second, "");
    }
    std::sort(conn.settings.begin(), conn.settings.end(), [](const Setting& a, const Setting& b) {
      return a.keyword != b.keyword ? a.keyword < b.keyword : a.side < b.side;
    });
    config_.conns.push_back(std::move(conn));
  }

 private:
  void read_side(const YAML::Node& side, const std::string& prefix, ConnSpec& conn) {
    if (!side.IsMap()) {
      error(side, prefix + " must be a mapping of " + prefix + "-side settings");
      return;
    }
    for (const auto& field : side) {
      std::string key = field.first.as<std::string>();
      if (key != "host" && !find_keyword(prefix + key, Section::kConn) &&
          find_keyword(key, Section::kConn)) {
        error(field.first, prefix + "." + key + ": " + key + " is not a left/right setting");
        continue;
      }
      add(conn, key == "host" ? prefix : prefix + key, field.first, field.second, prefix + ".");
    }
  }

  void add(ConnSpec& conn, const std::string& keyword_name, const YAML::Node& key_node,
           const YAML::Node& value_node, const std::string& path) {
    if (!find_keyword(keyword_name, Section::kConn)) {
      detail::Interpretation unknown = detail::interpret(keyword_name, Section::kConn, "");
      error(key_node, path.empty() ? unknown.message
                                   : path + key_node.as<std::string>() + ": " + unknown.message);
      return;
    }
    std::string value;
    if (value_node.IsScalar()) {
      value = value_node.Scalar();
    } else if (value_node.IsSequence()) {
      // Lists (subnets, proposals) join as libreswan writes them.
      for (const auto& item : value_node) {
        if (!item.IsScalar()) {
          error(item, path + keyword_name + ": list items must be plain values");
          return;
        }
        value += value.empty() ? "" : ",";
        value += item.Scalar();
      }
    } else if (value_node.IsNull()) {
      return;
    } else {
      error(value_node, path + key_node.as<std::string>() + " must be a value or a list");
      return;
    }
    detail::Interpretation it = detail::interpret(keyword_name, Section::kConn, value);
    if (it.verdict == detail::Verdict::kIgnored) {
      config_.diagnostics.warning(config_.files[0], static_cast<int>(line_of(key_node)),
                                  it.message);
      return;
    }
    if (it.verdict == detail::Verdict::kError) {
      error(key_node,
            path.empty() ? it.message : path + key_node.as<std::string>() + ": " + it.message);
      return;
    }
    if (!it.warning.empty()) {
      config_.diagnostics.warning(config_.files[0], static_cast<int>(line_of(key_node)),
                                  it.warning);
    }
    if (keyword(it.match.id).sided != (it.match.side != Side::kNone) ||
        (!path.empty() && it.match.side == Side::kNone)) {
      error(key_node, keyword_name + " is " +
                          (keyword(it.match.id).sided ? "a left/right setting: put it under left: "
                                                        "or right:"
                                                      : "not a left/right setting"));
      return;
    }
    for (const Setting& s : conn.settings) {
      if (s.keyword == it.match.id && s.side == it.match.side) {
        error(key_node, keyword_name + " is set twice (also through an alias)");
        return;
      }
    }
    conn.settings.push_back({it.match.id, it.match.side, value, 0, line_of(key_node)});
  }

  static std::string scalar(const YAML::Node& map, const char* key) {
    const YAML::Node n = map[key];
    return n && n.IsScalar() ? n.Scalar() : std::string();
  }

  void error(const YAML::Node& at, std::string message) {
    config_.diagnostics.error(config_.files[0], static_cast<int>(line_of(at)), std::move(message));
  }

  Config& config_;
  std::set<std::string> names_;
};

void emit_value(YAML::Emitter& out, const std::string& v) {
  out << YAML::Value << v;
}

}  // namespace

Config parse_yaml_text(std::string_view text, const std::string& name) {
  Config config;
  config.files.push_back(name);
  std::vector<YAML::Node> docs;
  try {
    std::string owned(text);
    check_documents_advance(owned);
    docs = YAML::LoadAll(owned);
  } catch (const YAML::Exception& e) {
    config.diagnostics.error(name, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
    return config;
  }
  SpecReader reader(config);
  for (const YAML::Node& doc : docs) {
    try {
      reader.read_document(doc);
    } catch (const YAML::Exception& e) {
      config.diagnostics.error(name, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
    }
  }
  return config;
}

Config parse_yaml_file(const std::string& path) {
  Result<std::string> text = read_file(path, kMaxConfigFileBytes);
  if (!text) {
    Config config;
    config.files.push_back(path);
    config.diagnostics.error(path, 0, "cannot read YAML spec: " + text.error());
    return config;
  }
  return parse_yaml_text(text.value(), path);
}

std::string to_yaml(const std::vector<Connection>& connections) {
  std::string result;
  for (const Connection& c : connections) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "apiVersion" << YAML::Value << std::string(kYamlApiVersion);
    out << YAML::Key << "kind" << YAML::Value << std::string(kYamlKind);
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name"
        << YAML::Value << c.name << YAML::EndMap;
    out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    for (Side side : {Side::kLeft, Side::kRight}) {
      bool any = std::any_of(c.settings.begin(), c.settings.end(),
                             [side](const Setting& s) { return s.side == side; });
      if (!any) {
        continue;
      }
      out << YAML::Key << (side == Side::kLeft ? "left" : "right") << YAML::Value << YAML::BeginMap;
      for (const Setting& s : c.settings) {
        if (s.side == side) {
          std::string_view name = keyword(s.keyword).name;
          out << YAML::Key << (name.empty() ? std::string("host") : std::string(name));
          emit_value(out, canonical_value(s));
        }
      }
      out << YAML::EndMap;
    }
    for (const Setting& s : c.settings) {
      if (s.side == Side::kNone) {
        out << YAML::Key << std::string(keyword(s.keyword).name);
        emit_value(out, canonical_value(s));
      }
    }
    out << YAML::EndMap << YAML::EndMap;
    result += "---\n";
    result += out.c_str();
    result += "\n";
  }
  return result;
}

}  // namespace ipsecd::model
