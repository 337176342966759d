#include "cli/status_text.h"

#include <cpprest/json.h>

#include <vector>

#include "cli/detail/json_text.h"

namespace ipsecd::cli {
namespace {

using detail::flag;
using detail::items;
using detail::joined;
using detail::number;
using detail::text;
using detail::time_member;
using web::json::value;

using detail::parse_answer;

model::Result<std::vector<value>> connection_list(const std::string& json) {
  model::Result<value> parsed = parse_answer(json, "GET /v1/connections");
  if (!parsed) {
    return model::Result<std::vector<value>>::failure(parsed.error());
  }
  const value* list = detail::member(*parsed, "connections");
  if (list == nullptr || !list->is_array()) {
    return model::Result<std::vector<value>>::failure(
        "the daemon's answer to GET /v1/connections has no \"connections\" array");
  }
  return items(*parsed, "connections");
}

// "Loaded=True Established=False(PeerNotResponding)"
std::string conditions_text(const value& conn) {
  std::string out;
  for (const value& c : items(conn, "conditions")) {
    if (!out.empty()) {
      out += ' ';
    }
    out += text(c, "type", "?") + "=" + text(c, "status", "?");
    std::string reason = text(c, "reason");
    if (text(c, "status") != "True" && !reason.empty()) {
      out += "(" + reason + ")";
    }
  }
  return out.empty() ? "-" : out;
}

std::string algorithms(const value& sa, std::initializer_list<std::string_view> keys) {
  std::string out;
  for (std::string_view k : keys) {
    std::string v = text(sa, k);
    if (v.empty()) {
      continue;
    }
    out += out.empty() ? "" : "/";
    out += v;
  }
  return out.empty() ? "-" : out;
}

// ", rekeys N"; nothing from a daemon that does not count them.
std::string rekeys_text(const value& sa) {
  return detail::member(sa, "rekeys") == nullptr
             ? std::string()
             : ", rekeys " + std::to_string(number(sa, "rekeys"));
}

std::string ike_sa_text(const value& sa, bool utc) {
  std::string out = "    IKE SA " + text(sa, "localSpi", "?") + ":" + text(sa, "remoteSpi", "?") +
                    " " + text(sa, "state", "?") +
                    (flag(sa, "initiator") ? " initiator" : " responder") + " " +
                    text(sa, "localAddress", "?") + " <-> " + text(sa, "remoteAddress", "?");
  std::string lid = text(sa, "localId");
  std::string rid = text(sa, "remoteId");
  if (!lid.empty() || !rid.empty()) {
    out += " " + (lid.empty() ? std::string("-") : lid) + " <-> " +
           (rid.empty() ? std::string("-") : rid);
  }
  out += "\n      " + algorithms(sa, {"encryption", "integrity", "prf", "dhGroup"}) +
         "; established " + time_member(sa, "establishedAt", utc) + ", rekey " +
         time_member(sa, "rekeyAt", utc);
  if (!text(sa, "reauthAt").empty()) {
    out += ", reauth " + time_member(sa, "reauthAt", utc);
  }
  if (!text(sa, "expiresAt").empty()) {
    out += ", expires " + time_member(sa, "expiresAt", utc);
  }
  return out + rekeys_text(sa) + "\n";
}

std::string child_sa_text(const value& sa, bool utc) {
  std::string out = "    CHILD SA " + text(sa, "protocol", "ESP") + " " + text(sa, "mode", "?") +
                    (flag(sa, "udpEncapsulated") ? " (UDP-encapsulated)" : "") + " in " +
                    text(sa, "spiIn", "?") + " out " + text(sa, "spiOut", "?") + " reqid " +
                    std::to_string(number(sa, "reqid")) + " " + text(sa, "state", "?") + " " +
                    joined(sa, "localTs", ",") + " === " + joined(sa, "remoteTs", ",") + "\n";
  out += "      " + algorithms(sa, {"encryption", "integrity", "dhGroup"}) +
         (flag(sa, "esn") ? " ESN" : "") + "; bytes in " + std::to_string(number(sa, "bytesIn")) +
         " out " + std::to_string(number(sa, "bytesOut")) + ", packets in " +
         std::to_string(number(sa, "packetsIn")) + " out " +
         std::to_string(number(sa, "packetsOut")) + "\n";
  out += "      established " + time_member(sa, "establishedAt", utc) + ", rekey " +
         time_member(sa, "rekeyAt", utc) + ", expires " + time_member(sa, "expiresAt", utc) +
         rekeys_text(sa) + "\n";
  return out;
}

// `ipsec status`'s two answers, each checked.
struct StatusAnswers {
  value status;
  std::vector<value> connections;
};

model::Result<StatusAnswers> status_answers(const std::string& status_json,
                                            const std::string& connections_json) {
  model::Result<value> status = parse_answer(status_json, "GET /v1/status");
  if (!status) {
    return model::Result<StatusAnswers>::failure(status.error());
  }
  model::Result<std::vector<value>> conns = connection_list(connections_json);
  if (!conns) {
    return model::Result<StatusAnswers>::failure(conns.error());
  }
  return StatusAnswers{std::move(status).value(), std::move(conns).value()};
}

}  // namespace

model::Result<std::string> format_status(const std::string& status_json,
                                         const std::string& connections_json, bool utc) {
  model::Result<StatusAnswers> answers = status_answers(status_json, connections_json);
  if (!answers) {
    return model::Result<std::string>::failure(answers.error());
  }
  const value& s = answers->status;
  const std::vector<value>* conns = &answers->connections;
  std::string out = "ipsecd " + text(s, "version", "?") + ", started " +
                    time_member(s, "startedAt", utc) + ", " +
                    (flag(s, "ready") ? "ready" : "not ready") + "\n";
  out += std::to_string(number(s, "connections")) +
         " connections: " + std::to_string(number(s, "established")) + " established, " +
         std::to_string(number(s, "routed")) + " routed, " + std::to_string(number(s, "failing")) +
         " failing; " + std::to_string(number(s, "ikeSas")) + " IKE SAs, " +
         std::to_string(number(s, "childSas")) + " CHILD SAs; work queue " +
         std::to_string(number(s, "workQueueDepth")) + "\n";
  for (const value& src : items(s, "sources")) {
    out += "source " + text(src, "origin", "?") + ": " +
           std::to_string(number(src, "connections")) + " connections\n";
    for (const value& e : items(src, "errors")) {
      if (e.is_string()) {
        out += "  " + e.as_string() + "\n";
      }
    }
  }
  out += "\n";
  if (conns->empty()) {
    return out + "no connections loaded\n";
  }
  std::vector<std::vector<std::string>> header = {
      {"CONNECTION", "ORIGIN", "AUTO", "INTENT", "GEN", "CONDITIONS"}};
  std::vector<std::vector<std::string>> rows = header;
  for (const value& c : *conns) {
    rows.push_back({text(c, "name", "?"), text(c, "origin", "?"), text(c, "auto", "-"),
                    text(c, "intent", "none"),
                    std::to_string(number(c, "generation")) + "/" +
                        std::to_string(number(c, "observedGeneration")),
                    conditions_text(c)});
  }
  // The table's lines, each followed by that connection's SAs.
  std::string lines = detail::table(rows);
  size_t pos = lines.find('\n') + 1;
  out += lines.substr(0, pos);
  for (const value& c : *conns) {
    size_t end = lines.find('\n', pos) + 1;
    out += lines.substr(pos, end - pos);
    pos = end;
    for (const value& sa : items(c, "ikeSas")) {
      out += ike_sa_text(sa, utc);
    }
    for (const value& sa : items(c, "childSas")) {
      out += child_sa_text(sa, utc);
    }
    std::string error = text(c, "lastError");
    if (!error.empty()) {
      out += "    last error: " + error + "\n";
    }
  }
  return out;
}

model::Result<std::string> combine_status_json(const std::string& status_json,
                                               const std::string& connections_json) {
  model::Result<StatusAnswers> answers = status_answers(status_json, connections_json);
  if (!answers) {
    return model::Result<std::string>::failure(answers.error());
  }
  value out = value::object();
  out["status"] = answers->status;
  out["connections"] = value::array(answers->connections);
  return out.serialize() + "\n";
}

model::Result<std::string> format_trafficstatus(const std::string& connections_json) {
  model::Result<std::vector<value>> conns = connection_list(connections_json);
  if (!conns) {
    return model::Result<std::string>::failure(conns.error());
  }
  std::string out;
  int serial = 0;
  for (const value& c : *conns) {
    std::vector<value> ike = items(c, "ikeSas");
    std::string remote_id = ike.empty() ? "" : text(ike.front(), "remoteId");
    for (const value& sa : items(c, "childSas")) {
      std::optional<std::time_t> added = detail::parse_rfc3339(text(sa, "establishedAt"));
      out += "006 #" + std::to_string(++serial) + ": \"" + text(c, "name", "?") +
             "\", type=" + text(sa, "protocol", "ESP") +
             ", add_time=" + std::to_string(added ? static_cast<long long>(*added) : 0) +
             ", inBytes=" + std::to_string(number(sa, "bytesIn")) +
             ", outBytes=" + std::to_string(number(sa, "bytesOut"));
      if (!remote_id.empty()) {
        out += ", id='" + remote_id + "'";
      }
      out += "\n";
    }
  }
  return out;
}

std::string describe_connection(const std::string& status_json) {
  try {
    value c = value::parse(status_json);
    return text(c, "name", "?") + ": origin " + text(c, "origin", "?") +
           ", auto=" + text(c, "auto", "-") + ", generation " +
           std::to_string(number(c, "generation")) + "; " + conditions_text(c);
  } catch (const std::exception&) {
    return status_json;
  }
}

std::string describe_intent(const std::string& outcome_json) {
  try {
    value o = value::parse(outcome_json);
    const value* conn = detail::member(o, "connection");
    std::string name = conn != nullptr ? text(*conn, "name", "?") : "?";
    std::string intent = text(o, "intent", "?");
    if (!flag(o, "completed")) {
      return name + ": " + intent + " requested, not waiting for the outcome (see ipsec status)";
    }
    return name + ": " + intent + " done; " + (conn != nullptr ? conditions_text(*conn) : "");
  } catch (const std::exception&) {
    return outcome_json;
  }
}

}  // namespace ipsecd::cli
