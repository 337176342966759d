#include "model/keywords.h"

#include "model/text.h"

#include <algorithm>
#include <array>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace ipsecd::model {
namespace {

constexpr Keyword kTable[] = {
#include "model/keyword_table.inc"
};

struct Spelling {
  KeywordMatch match;
  Section section;
};

// Every accepted spelling, lower case: "subnet" (unsided), "leftsubnet",
// "left-subnet", "rightsubnet", "right-subnet"; built once.
class SpellingIndex {
 public:
  SpellingIndex() {
    for (size_t i = 0; i < std::size(kTable); ++i) {
      const Keyword& k = kTable[i];
      auto id = static_cast<KeywordId>(i);
      if (!k.sided) {
        add(std::string(k.name), {id, Side::kNone}, k.section);
        continue;
      }
      for (Side side : {Side::kLeft, Side::kRight}) {
        std::string prefix = side == Side::kLeft ? "left" : "right";
        add(prefix + std::string(k.name), {id, side}, k.section);
        if (!k.name.empty()) {
          add(prefix + "-" + std::string(k.name), {id, side}, k.section);
        }
      }
    }
    // A left/right keyword written without its prefix ("updown=") sets both
    // sides, unless an unsided keyword has that name.
    for (size_t i = 0; i < std::size(kTable); ++i) {
      const Keyword& k = kTable[i];
      if (k.sided && !k.name.empty()) {
        add(std::string(k.name), {static_cast<KeywordId>(i), Side::kNone}, k.section);
      }
    }
  }

  std::optional<KeywordMatch> find(std::string_view lower, Section section) const {
    auto& map = section == Section::kSetup ? setup_ : conn_;
    auto it = map.find(lower);
    if (it == map.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  const std::vector<std::string>& names(Section section) const {
    return section == Section::kSetup ? setup_names_ : conn_names_;
  }

 private:
  void add(std::string spelled, KeywordMatch m, Section section) {
    auto& names = section == Section::kSetup ? setup_names_ : conn_names_;
    auto& map = section == Section::kSetup ? setup_ : conn_;
    if (map.count(spelled) != 0) {
      return;
    }
    names.push_back(spelled);
    storage_.push_back(std::move(spelled));
    map.emplace(storage_.back(), m);
  }

  std::vector<std::string> setup_names_, conn_names_;
  std::deque<std::string> storage_;  // map keys point here; a deque never moves them
  std::unordered_map<std::string_view, KeywordMatch> setup_, conn_;
};

const SpellingIndex& index() {
  static const SpellingIndex idx;
  return idx;
}

// Levenshtein distance, or limit + 1 as soon as it must exceed `limit`.
size_t edit_distance(std::string_view a, std::string_view b, size_t limit) {
  size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (gap > limit) {
    return limit + 1;
  }
  std::array<size_t, 64> row_a{}, row_b{};
  if (b.size() >= row_a.size()) {
    return limit + 1;
  }
  size_t* prev = row_a.data();
  size_t* cur = row_b.data();
  for (size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) {
      return limit + 1;
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string Keyword::spelled(Side side) const {
  switch (side) {
    case Side::kLeft:
      return "left" + std::string(name);
    case Side::kRight:
      return "right" + std::string(name);
    case Side::kNone:
      break;
  }
  return std::string(name);
}

std::span<const Keyword> keyword_table() {
  return kTable;
}

std::optional<KeywordMatch> find_keyword(std::string_view spelled, Section section) {
  std::array<char, 64> buf{};
  if (spelled.empty() || spelled.size() > buf.size()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < spelled.size(); ++i) {
    buf[i] = text::to_lower(spelled[i]);
  }
  return index().find(std::string_view(buf.data(), spelled.size()), section);
}

std::optional<KeywordId> keyword_id(std::string_view name, Section section) {
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (kTable[i].name == name && kTable[i].section == section) {
      return static_cast<KeywordId>(i);
    }
  }
  return std::nullopt;
}

KeywordId resolve_alias(KeywordId id) {
  const Keyword& k = kTable[id];
  if (k.status != KeywordStatus::kAlias) {
    return id;
  }
  auto target = keyword_id(k.alias_of, k.section);
  return target ? *target : id;
}

std::string nearest_keyword(std::string_view spelled, Section section) {
  // No keyword is longer than 40 characters; a longer word is not a typo of one.
  if (spelled.size() > 40) {
    return {};
  }
  std::string lower = text::lower(spelled);
  // Beyond a third of the word, a suggestion is noise.
  size_t limit = std::max<size_t>(2, lower.size() / 3);
  std::string best;
  size_t best_dist = limit + 1;
  for (const std::string& name : index().names(section)) {
    size_t d = edit_distance(lower, name, std::min(limit, best_dist));
    if (d < best_dist) {
      best_dist = d;
      best = name;
    }
  }
  return best;
}

}  // namespace ipsecd::model
