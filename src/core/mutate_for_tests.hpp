// Fuzz-ish input for parser tests: a seeded sequence of byte mutations (flip, drop, duplicate
// a run) of a valid document. Deterministic, so a failure names the iteration that broke.
#pragma once

#include <cstdint>
#include <string>

namespace shipshape::testing {

class Mutator {
  public:
    explicit Mutator(uint32_t seed) : m_seed(seed) {}

    // Returns `base` with one to four random edits.
    std::string mutate(const std::string& base) {
        std::string text = base;
        int edits = 1 + static_cast<int>(next() % 4);
        for (int e = 0; e < edits && !text.empty(); ++e) {
            size_t at = next() % text.size();
            switch (next() % 3) {
                case 0:
                    text[at] = static_cast<char>(next() % 128);
                    break;
                case 1:
                    text.erase(at, 1 + next() % 8);
                    break;
                default:
                    text.insert(at, text.substr(at, 1 + next() % 16));
                    break;
            }
        }
        return text;
    }

  private:
    uint32_t next() {
        m_seed = m_seed * 1103515245u + 12345u;
        return (m_seed >> 8) & 0xffffff;
    }
    uint32_t m_seed;
};

}  // namespace shipshape::testing
