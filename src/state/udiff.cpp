#include "state/udiff.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shipshape::state {

namespace {

// Signed so that diagonals (x - y) and "unreached" (-1) need no casts in the search loops.
using Index = std::ptrdiff_t;

constexpr Index k_unreached = -1;

std::size_t at(Index i) {
    return static_cast<std::size_t>(i);
}

// Each line keeps its '\n' so that a last line without one differs from the same text with one,
// which is how GNU diff decides to print "\ No newline at end of file".
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    lines.reserve(at(std::count(text.begin(), text.end(), '\n')) + 1);
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t newline = text.find('\n', begin);
        const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
        lines.push_back(text.substr(begin, end - begin));
        begin = end;
    }
    return lines;
}

// Smallest value >= bound with the parity of `from` (from <= bound or not).
Index first_with_parity(Index from, Index bound) {
    if (from >= bound) {
        return from;
    }
    return from + (bound - from + 1) / 2 * 2;
}

// Largest value <= bound with the parity of `from`.
Index last_with_parity(Index from, Index bound) {
    if (from <= bound) {
        return from;
    }
    return from - (from - bound + 1) / 2 * 2;
}

// Linear-space Myers: find a point on a shortest edit path through its middle, recurse on both
// halves. Lines are interned to ids first so that the inner loops compare integers, not text.
class ShortestEdit {
  public:
    ShortestEdit(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b)
        : m_a(a),
          m_b(b),
          m_changed_a(a.size(), 0),
          m_changed_b(b.size(), 0),
          m_forward(a.size() + b.size() + 1, k_unreached),
          m_backward(a.size() + b.size() + 1, k_unreached) {}

    // False when the shortest edit script costs more than max_cost; the marks are then partial.
    bool run(std::size_t max_cost) {
        const auto limit =
            static_cast<Index>(std::min<std::size_t>(max_cost, std::numeric_limits<Index>::max()));
        return compare(0, static_cast<Index>(m_a.size()), 0, static_cast<Index>(m_b.size()), limit);
    }

    const std::vector<char>& changed_a() const { return m_changed_a; }
    const std::vector<char>& changed_b() const { return m_changed_b; }
    std::size_t comparisons() const { return m_comparisons; }

  private:
    struct Point {
        Index x;
        Index y;
    };

    bool same(Index x, Index y) {
        ++m_comparisons;
        return m_a[at(x)] == m_b[at(y)];
    }

    bool compare(Index a_lo, Index a_hi, Index b_lo, Index b_hi, Index cost_limit) {
        while (a_lo < a_hi && b_lo < b_hi && same(a_lo, b_lo)) {
            ++a_lo;
            ++b_lo;
        }
        while (a_lo < a_hi && b_lo < b_hi && same(a_hi - 1, b_hi - 1)) {
            --a_hi;
            --b_hi;
        }
        // After trimming, a single insertion or deletion always leaves one side empty, so the
        // search below only ever sees costs >= 2 and both halves of its split are non-empty.
        if (a_lo == a_hi || b_lo == b_hi) {
            std::fill(m_changed_a.begin() + a_lo, m_changed_a.begin() + a_hi, char{1});
            std::fill(m_changed_b.begin() + b_lo, m_changed_b.begin() + b_hi, char{1});
            return true;
        }
        const std::optional<Point> split = middle(a_lo, a_hi, b_lo, b_hi, cost_limit);
        if (!split) {
            return false;
        }
        // The halves cost at most the whole, which already passed the limit.
        constexpr Index k_no_limit = std::numeric_limits<Index>::max();
        compare(a_lo, split->x, b_lo, split->y, k_no_limit);
        compare(split->x, a_hi, split->y, b_hi, k_no_limit);
        return true;
    }

    // A point on a shortest path from (a_lo, b_lo) to (a_hi, b_hi) with a non-zero cost on either
    // side of it, or nullopt when that path costs more than cost_limit.
    std::optional<Point> middle(Index a_lo, Index a_hi, Index b_lo, Index b_hi, Index cost_limit) {
        const Index n = a_hi - a_lo;
        const Index m = b_hi - b_lo;
        const Index delta = n - m;
        const bool odd = delta % 2 != 0;
        // Diagonal k = x - y lives at k + m; only the grid's diagonals [-m, n] are ever stored.
        auto forward = [&](Index k) -> Index& { return m_forward[at(k + m)]; };
        auto backward = [&](Index k) -> Index& { return m_backward[at(k + m)]; };
        std::fill(m_forward.begin(), m_forward.begin() + n + m + 1, k_unreached);
        std::fill(m_backward.begin(), m_backward.begin() + n + m + 1, k_unreached);

        for (Index d = 0;; ++d) {
            // The total cost has the parity of delta, so this is the cheapest this round can find.
            if ((odd ? 2 * d - 1 : 2 * d) > cost_limit) {
                return std::nullopt;
            }
            const Index f_first = first_with_parity(-d, -m);
            const Index f_last = last_with_parity(d, n);
            for (Index k = f_first; k <= f_last; k += 2) {
                Index x = d == 0 ? 0 : k_unreached;
                if (d > 0 && k + 1 <= n) {
                    const Index from = forward(k + 1);
                    if (from != k_unreached && from - k <= m) {
                        x = from;
                    }
                }
                if (d > 0 && k - 1 >= -m) {
                    const Index from = forward(k - 1);
                    if (from != k_unreached && from + 1 <= n) {
                        x = std::max(x, from + 1);
                    }
                }
                if (x == k_unreached) {
                    forward(k) = k_unreached;
                    continue;
                }
                Index y = x - k;
                while (x < n && y < m && same(a_lo + x, b_lo + y)) {
                    ++x;
                    ++y;
                }
                forward(k) = x;
                if (odd && d > 0 && k >= delta - (d - 1) && k <= delta + (d - 1) &&
                    backward(k) != k_unreached && x >= backward(k)) {
                    return Point{a_lo + x, b_lo + y};
                }
            }
            const Index b_first = first_with_parity(delta - d, -m);
            const Index b_last = last_with_parity(delta + d, n);
            for (Index k = b_first; k <= b_last; k += 2) {
                Index x = d == 0 ? n : k_unreached;
                if (d > 0 && k + 1 <= n) {
                    const Index from = backward(k + 1);
                    if (from != k_unreached && from >= 1) {
                        x = from - 1;
                    }
                }
                if (d > 0 && k - 1 >= -m) {
                    const Index from = backward(k - 1);
                    if (from != k_unreached && from - k >= 0) {
                        x = x == k_unreached ? from : std::min(x, from);
                    }
                }
                if (x == k_unreached) {
                    backward(k) = k_unreached;
                    continue;
                }
                Index y = x - k;
                while (x > 0 && y > 0 && same(a_lo + x - 1, b_lo + y - 1)) {
                    --x;
                    --y;
                }
                backward(k) = x;
                if (!odd && k >= -d && k <= d && forward(k) != k_unreached && forward(k) >= x) {
                    return Point{a_lo + x, b_lo + y};
                }
            }
        }
    }

    const std::vector<std::size_t>& m_a;
    const std::vector<std::size_t>& m_b;
    std::vector<char> m_changed_a;
    std::vector<char> m_changed_b;
    std::vector<Index> m_forward;
    std::vector<Index> m_backward;
    std::size_t m_comparisons = 0;
};

// A maximal run of changed lines: [a_begin, a_end) removed, [b_begin, b_end) added.
struct Change {
    std::size_t a_begin;
    std::size_t a_end;
    std::size_t b_begin;
    std::size_t b_end;
};

std::vector<Change> collect_changes(const std::vector<char>& changed_a,
                                    const std::vector<char>& changed_b) {
    std::vector<Change> changes;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < changed_a.size() || j < changed_b.size()) {
        const bool keep_a = i < changed_a.size() && changed_a[i] == 0;
        const bool keep_b = j < changed_b.size() && changed_b[j] == 0;
        if (keep_a && keep_b) {
            ++i;
            ++j;
            continue;
        }
        Change change{i, i, j, j};
        while (i < changed_a.size() && changed_a[i] != 0) {
            ++i;
        }
        while (j < changed_b.size() && changed_b[j] != 0) {
            ++j;
        }
        change.a_end = i;
        change.b_end = j;
        changes.push_back(change);
    }
    return changes;
}

void append_range(std::string& out, std::size_t first, std::size_t count) {
    // GNU diff names the line before an empty range, and leaves out a count of one.
    if (count == 0) {
        out += std::to_string(first);
        out += ",0";
    } else if (count == 1) {
        out += std::to_string(first + 1);
    } else {
        out += std::to_string(first + 1);
        out += ',';
        out += std::to_string(count);
    }
}

void append_line(std::string& out, char tag, std::string_view line) {
    out += tag;
    out += line;
    if (line.empty() || line.back() != '\n') {
        out += "\n\\ No newline at end of file\n";
    }
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view label_before, std::string_view label_after,
                         const DiffOptions& options) {
    DiffWork work;
    return unified_diff(before, after, label_before, label_after, options, work);
}

std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view label_before, std::string_view label_after,
                         const DiffOptions& options, DiffWork& work) {
    if (before == after) {
        return "";
    }
    const std::vector<std::string_view> a = split_lines(before);
    const std::vector<std::string_view> b = split_lines(after);

    // Typical edits touch a few lines of a long file; trimming keeps the search to those.
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
        ++prefix;
    }
    std::size_t suffix = 0;
    while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
           a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
        ++suffix;
    }

    std::unordered_map<std::string_view, std::size_t> ids;
    auto intern = [&](std::size_t begin, std::size_t end, const std::vector<std::string_view>& in) {
        std::vector<std::size_t> out;
        out.reserve(end - begin);
        for (std::size_t i = begin; i < end; ++i) {
            out.push_back(ids.try_emplace(in[i], ids.size()).first->second);
        }
        return out;
    };
    const std::vector<std::size_t> mid_a = intern(prefix, a.size() - suffix, a);
    const std::vector<std::size_t> mid_b = intern(prefix, b.size() - suffix, b);

    std::vector<char> changed_a(a.size(), 0);
    std::vector<char> changed_b(b.size(), 0);
    ShortestEdit edit(mid_a, mid_b);
    const auto head = static_cast<Index>(prefix);
    const auto tail = static_cast<Index>(suffix);
    const bool minimal = edit.run(options.max_cost);
    work.comparisons += edit.comparisons();
    if (minimal) {
        std::copy(edit.changed_a().begin(), edit.changed_a().end(), changed_a.begin() + head);
        std::copy(edit.changed_b().begin(), edit.changed_b().end(), changed_b.begin() + head);
    } else {
        // Too different for a minimal diff to be worth the time: replace the differing middle.
        std::fill(changed_a.begin() + head, changed_a.end() - tail, char{1});
        std::fill(changed_b.begin() + head, changed_b.end() - tail, char{1});
    }

    const std::vector<Change> changes = collect_changes(changed_a, changed_b);
    const std::size_t context = options.context > 0 ? static_cast<std::size_t>(options.context) : 0;

    std::string out;
    out += "--- ";
    out += label_before;
    out += "\n+++ ";
    out += label_after;
    out += '\n';
    for (std::size_t first = 0; first < changes.size();) {
        // Changes separated by at most 2 * context unchanged lines share one hunk, as in GNU diff.
        std::size_t last = first;
        while (last + 1 < changes.size() &&
               changes[last + 1].a_begin - changes[last].a_end <= 2 * context) {
            ++last;
        }
        // Unchanged runs are equally long on both sides, so one context length serves both.
        const std::size_t lead = std::min(context, changes[first].a_begin);
        const std::size_t trail = std::min(context, a.size() - changes[last].a_end);
        const std::size_t a_first = changes[first].a_begin - lead;
        const std::size_t b_first = changes[first].b_begin - lead;
        const std::size_t a_count = changes[last].a_end + trail - a_first;
        const std::size_t b_count = changes[last].b_end + trail - b_first;

        out += "@@ -";
        append_range(out, a_first, a_count);
        out += " +";
        append_range(out, b_first, b_count);
        out += " @@\n";
        std::size_t i = a_first;
        for (std::size_t c = first; c <= last; ++c) {
            for (; i < changes[c].a_begin; ++i) {
                append_line(out, ' ', a[i]);
            }
            for (; i < changes[c].a_end; ++i) {
                append_line(out, '-', a[i]);
            }
            for (std::size_t j = changes[c].b_begin; j < changes[c].b_end; ++j) {
                append_line(out, '+', b[j]);
            }
        }
        for (; i < a_first + a_count; ++i) {
            append_line(out, ' ', a[i]);
        }
        first = last + 1;
    }
    return out;
}

}  // namespace shipshape::state
