#include "cli/certs_text.h"

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

model::Result<value> parse_object(const std::string& json, std::string_view what,
                                  std::string_view required) {
  model::Result<value> parsed = detail::parse_answer(json, what);
  if (!parsed) {
    return parsed;
  }
  value v = std::move(parsed).value();
  if (detail::member(v, required) == nullptr) {
    return model::Result<value>::failure("the daemon's answer to " + std::string(what) +
                                         " has no \"" + std::string(required) + "\"");
  }
  return v;
}

void field(std::string& out, std::string_view label, const std::string& v) {
  if (v.empty()) {
    return;
  }
  out += "    ";
  out += label;
  out += std::string(label.size() < 12 ? 12 - label.size() : 1, ' ');
  out += v + "\n";
}

std::string cert_item(const value& item, bool utc) {
  std::string out = "  " + text(item, "file", "?");
  std::string format = text(item, "format");
  out += format.empty() ? "\n" : " (" + format + ")\n";
  field(out, "subject:", text(item, "subject"));
  field(out, "issuer:", text(item, "issuer"));
  field(out, "serial:", text(item, "serial"));
  field(out, "validity:",
        time_member(item, "notBefore", utc) + " .. " + time_member(item, "notAfter", utc));
  std::string key = text(item, "keyType", "?");
  key += flag(item, "hasPrivateKey") ? ", private key present" : ", no private key";
  field(out, "key:", key);
  field(out, "CA:", flag(item, "isCa") ? "yes" : "no");
  field(out, "altNames:", joined(item, "subjectAltNames", ", "));
  field(out, "SHA-256:", text(item, "fingerprintSha256"));
  return out;
}

std::string crl_item(const value& item, bool utc) {
  std::string out = "  " + text(item, "file", "?") + "\n";
  field(out, "issuer:", text(item, "issuer"));
  field(out, "updates:",
        "this " + time_member(item, "thisUpdate", utc) + ", next " +
            time_member(item, "nextUpdate", utc));
  std::string verified = flag(item, "verified") ? "verified" : "NOT verified";
  std::string why = text(item, "verifyError");
  field(out, "signature:", why.empty() ? verified : verified + ": " + why);
  std::vector<value> revoked = items(item, "revoked");
  field(out, "revoked:",
        std::to_string(revoked.size()) + (revoked.size() == 1 ? " certificate" : " certificates"));
  for (const value& r : revoked) {
    out +=
        "      serial " + text(r, "serial", "?") + " at " + time_member(r, "revokedAt", utc) + "\n";
  }
  return out;
}

std::string pubkey_item(const value& item) {
  std::string out = "  " + text(item, "connection", "?") + " " + text(item, "side", "?") + ": ";
  std::string id = text(item, "id");
  out += id.empty() ? "" : "id " + id + ", ";
  out += text(item, "keyType", "?");
  uint64_t bits = number(item, "bits");
  out += bits == 0 ? "" : " " + std::to_string(bits) + " bits";
  std::string key_id = text(item, "keyId");
  out += key_id.empty() ? "" : ", keyid " + key_id;
  std::string source = text(item, "source");
  out += source.empty() ? "" : " (from " + source + ")";
  return out + "\n";
}

std::string errors_text(const value& v, std::string_view indent) {
  std::string out;
  for (const value& e : items(v, "errors")) {
    if (e.is_string()) {
      out += std::string(indent) + "error: " + e.as_string() + "\n";
    }
  }
  return out;
}

std::string listing_text(const value& listing, bool utc) {
  std::string kind = text(listing, "kind", "?");
  std::string out = std::string(kind_title(kind));
  std::string dir = text(listing, "directory");
  out += dir.empty() ? ":\n" : " in " + dir + ":\n";
  std::vector<value> list = items(listing, "items");
  if (list.empty()) {
    out += "  (none)\n";
  }
  for (const value& item : list) {
    if (kind == "crls") {
      out += crl_item(item, utc);
    } else if (kind == "pubkeys") {
      out += pubkey_item(item);
    } else {
      out += cert_item(item, utc);
    }
  }
  return out + errors_text(listing, "  ");
}

}  // namespace

std::string_view kind_title(std::string_view kind) {
  if (kind == "certs") {
    return "X.509 end certificates";
  }
  if (kind == "cacerts") {
    return "X.509 CA certificates";
  }
  if (kind == "acerts") {
    return "X.509 attribute certificates";
  }
  if (kind == "aacerts") {
    return "X.509 authority attribute certificates";
  }
  if (kind == "crls") {
    return "X.509 certificate revocation lists";
  }
  if (kind == "pubkeys") {
    return "Public keys";
  }
  return kind;
}

model::Result<std::string> format_listing(const std::string& listing_json, bool utc) {
  model::Result<value> v = parse_object(listing_json, "GET /v1/certs", "items");
  if (!v) {
    return model::Result<std::string>::failure(v.error());
  }
  return listing_text(*v, utc);
}

model::Result<std::string> format_reloaded(const std::string& reload_json) {
  model::Result<value> v = parse_object(reload_json, "POST /v1/certs:reload", "reloaded");
  if (!v) {
    return model::Result<std::string>::failure(v.error());
  }
  std::string out;
  for (const value& listing : items(*v, "reloaded")) {
    std::string kind = text(listing, "kind", "?");
    size_t errors = items(listing, "errors").size();
    out += "reloaded " + std::string(kind_title(kind)) + " from " +
           text(listing, "directory", "?") + ": " + std::to_string(items(listing, "items").size()) +
           " loaded, " + std::to_string(errors) + (errors == 1 ? " error\n" : " errors\n");
    out += errors_text(listing, "  ");
  }
  return out;
}

model::Result<std::string> format_check(const std::string& check_json, bool utc) {
  model::Result<value> v = parse_object(check_json, "POST /v1/certs:check", "items");
  if (!v) {
    return model::Result<std::string>::failure(v.error());
  }
  uint64_t window = number(*v, "window");
  std::vector<value> list = items(*v, "items");
  // As libreswan's --checkpubkeys: only what is expiring, expired or invalid.
  std::vector<std::vector<std::string>> rows;
  for (const value& item : list) {
    if (text(item, "status") == "ok") {
      continue;
    }
    rows.push_back({text(item, "status", "?"), text(item, "kind", "?"), text(item, "name", "?"),
                    "notAfter " + time_member(item, "notAfter", utc), text(item, "message")});
  }
  std::string out = std::to_string(list.size()) + " certificates checked for expiry within " +
                    std::to_string(window / 86400) + " days (" + std::to_string(window) + " s): ";
  if (rows.empty()) {
    return out + "none expiring, expired or invalid\n";
  }
  out += std::to_string(rows.size()) + " expiring, expired or invalid\n";
  return out + detail::table(rows, "  ");
}

model::Result<std::string> format_groups(const std::string& groups_json) {
  return format_groups(groups_json, "Policy groups:");
}

model::Result<std::string> format_reloaded_groups(const std::string& groups_json) {
  return format_groups(groups_json, "reloaded policy groups:");
}

model::Result<std::string> format_groups(const std::string& groups_json, std::string_view heading) {
  model::Result<value> v = parse_object(groups_json, "/v1/groups", "groups");
  if (!v) {
    return model::Result<std::string>::failure(v.error());
  }
  std::vector<value> groups = items(*v, "groups");
  std::string out = std::string(heading) + "\n";
  if (groups.empty()) {
    out += "  (none)\n";
  }
  for (const value& g : groups) {
    std::vector<value> entries = items(g, "entries");
    out += "  " + text(g, "name", "?") + " (" + text(g, "file", "?") +
           "): " + std::to_string(entries.size()) +
           (entries.size() == 1 ? " entry\n" : " entries\n");
    for (const value& e : entries) {
      if (e.is_string()) {
        out += "    " + e.as_string() + "\n";
      }
    }
    out += errors_text(g, "    ");
  }
  return out;
}

model::Result<std::string> format_purged(const std::string& purge_json) {
  model::Result<value> v = parse_object(purge_json, "POST /v1/ocsp:purge", "purged");
  if (!v) {
    return model::Result<std::string>::failure(v.error());
  }
  return "purged " + std::to_string(number(*v, "purged")) + " cached OCSP responses\n";
}

}  // namespace ipsecd::cli
