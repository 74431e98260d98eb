// Redaction of secret values from anything shipshape writes: logs, journal entries, output.
// Pure; safe to share between threads once built.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shipshape {

class Redactor {
  public:
    Redactor() = default;
    // Empty values are ignored; longer secrets are replaced before shorter ones so that a secret
    // containing another is hidden whole.
    explicit Redactor(std::vector<std::string> secrets);

    // Returns `text` with every occurrence of every secret replaced by "***".
    std::string apply(std::string_view text) const;
    bool empty() const { return m_secrets.empty(); }

  private:
    std::vector<std::string> m_secrets;
};

}  // namespace shipshape
