#pragma once
// The readable forms of the certificate, public key and policy group answers
// (the /v1/certs, /v1/groups and /v1/ocsp routes). Each takes the JSON text
// the API answered and fails with the reason when it is not JSON of that shape.

#include <string>
#include <string_view>

#include "model/result.h"

namespace ipsecd::cli {

// The heading of a listing kind: "X.509 CA certificates" for "cacerts".
std::string_view kind_title(std::string_view kind);

// GET /v1/certs?kind=K: the heading with the directory, then each item
// (certificates, CRLs or public keys by the kind) and the listing's errors.
model::Result<std::string> format_listing(const std::string& listing_json, bool utc);
// POST /v1/certs:reload: per kind reloaded, its item and error counts and errors.
model::Result<std::string> format_reloaded(const std::string& reload_json);
// POST /v1/certs:check: the count, then each item not "ok" with its status
// and notAfter.
model::Result<std::string> format_check(const std::string& check_json, bool utc);
// GET /v1/groups and POST /v1/groups:reload: each group, its file, entries and errors.
model::Result<std::string> format_groups(const std::string& groups_json);
// The same under "reloaded policy groups:" (POST /v1/groups:reload).
model::Result<std::string> format_reloaded_groups(const std::string& groups_json);
model::Result<std::string> format_groups(const std::string& groups_json, std::string_view heading);
// POST /v1/ocsp:purge.
model::Result<std::string> format_purged(const std::string& purge_json);

}  // namespace ipsecd::cli
