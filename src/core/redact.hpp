// Redaction of secret values from anything shipshape writes: logs, journal entries, output.
//
// What is hidden: every byte of every occurrence of every secret. Occurrences that overlap
// (share bytes) become one "***"; occurrences that merely touch stay one "***" each. So the
// result never shows part of a secret, whatever the secrets have in common (one a prefix or a
// part of another, one overlapping the next).
//
// Redactor is pure and immutable once built: safe to share between threads. It scans text
// once, whatever the number of secrets (a table of the bytes that start a secret skips all
// others), and allocates nothing per byte.
//
// StreamRedactor redacts output that arrives in chunks (a process writing a long line in
// two writes): it holds back at most (longest secret - 1) bytes that could be the start of a
// secret until the next chunk or the end, so a secret split across chunks is still hidden.
// The output of a stream equals Redactor::apply of the whole text, for every way of splitting
// it. A byte that occurs in no secret (typically '\n') ends every possible match, so text up
// to the last such byte is never held back: live output stays live line by line.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shipshape {

class Redactor {
  public:
    // What replaces a secret.
    static constexpr std::string_view k_mask = "***";
    // Secrets shorter than this mask much more than themselves (every "ab" in all output);
    // they are still redacted, but callers warn about them (see short_secrets()).
    static constexpr size_t k_min_safe_length = 4;

    Redactor() = default;
    // Empty values are ignored, duplicates dropped.
    explicit Redactor(std::vector<std::string> secrets);

    // Returns `text` with every occurrence of every secret replaced by "***" (see above).
    std::string apply(std::string_view text) const;
    // Redacts `text` in place; does nothing (and allocates nothing) when no secret occurs.
    void apply_in_place(std::string& text) const;
    bool empty() const { return m_secrets.empty(); }
    // The length of the longest secret (0 when empty).
    size_t longest() const { return m_longest; }
    // How many secrets are shorter than k_min_safe_length.
    size_t short_secrets() const;

  private:
    friend class StreamRedactor;

    // Redacts from the start of `text`, appending to `out` everything that is decided: all
    // of it when `at_end`, else all but a tail that could still begin a secret. `covered`
    // (in and out) is how many bytes at the start of `text` belong to an occurrence whose
    // "***" is already written. Returns how many bytes of `text` were consumed.
    size_t redact_prefix(std::string_view text, size_t& covered, bool at_end,
                         std::string& out) const;
    // The length of the longest secret that occurs at `text[pos]`, or 0.
    size_t match_at(std::string_view text, size_t pos) const;

    std::vector<std::string> m_secrets;  // by first byte, then longest first
    // For each byte value: the range of m_secrets starting with it (begin, end).
    std::array<std::pair<uint32_t, uint32_t>, 256> m_by_first{};
    std::array<bool, 256> m_starts{};     // some secret starts with this byte
    std::array<bool, 256> m_in_secret{};  // some secret contains this byte
    size_t m_start_count = 0;             // how many byte values start a secret
    unsigned char m_first_start = 0;      // one of them (the only one when m_start_count is 1)
    size_t m_longest = 0;
};

// Redacts one stream of output (see the file comment). Not thread-safe; the Redactor must
// outlive it. After finish() it can take a new stream.
class StreamRedactor {
  public:
    explicit StreamRedactor(const Redactor& redactor) : m_redactor(redactor) {}

    // Appends to `out` the redacted text that no later chunk can change.
    void feed(std::string_view chunk, std::string& out);
    // The stream ended: appends what was held back, redacted.
    void finish(std::string& out);
    // Bytes held back, waiting for more input.
    size_t pending() const { return m_tail.size(); }

  private:
    const Redactor& m_redactor;
    std::string m_tail;
    size_t m_covered = 0;
};

}  // namespace shipshape
