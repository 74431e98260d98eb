#include "release/signers.hpp"

#include <algorithm>
#include <ctime>

#include "core/text.hpp"
#include "release/sshsig.hpp"

namespace shipshape::release {

namespace {

// Splits an allowed_signers line into fields at blanks outside double quotes.
std::vector<std::pair<std::string, size_t>> fields_of(std::string_view line) {
    std::vector<std::pair<std::string, size_t>> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_blank(line[i])) {
            ++i;
        }
        if (i >= line.size()) {
            break;
        }
        size_t start = i;
        bool quoted = false;
        std::string word;
        for (; i < line.size() && (quoted || !is_blank(line[i])); ++i) {
            if (line[i] == '"') {
                quoted = !quoted;
            }
            word += line[i];
        }
        out.emplace_back(std::move(word), start);
    }
    return out;
}

std::string unquote(std::string_view s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
        return std::string(s.substr(1, s.size() - 2));
    }
    return std::string(s);
}

std::vector<std::string> split_commas(std::string_view s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string_view::npos) {
            comma = s.size();
        }
        out.emplace_back(s.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

// Splits options at commas outside quotes.
std::vector<std::string> split_options(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (char c : s) {
        if (c == '"') {
            quoted = !quoted;
        }
        if (c == ',' && !quoted) {
            out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(std::move(cur));
    return out;
}

// YYYYMMDD[HHMM[SS]][Z], as ssh-keygen reads valid-after/valid-before: local time unless 'Z'.
std::optional<int64_t> parse_signer_time(std::string_view s) {
    bool utc = !s.empty() && (s.back() == 'Z' || s.back() == 'z');
    if (utc) {
        s.remove_suffix(1);
    }
    if (s.size() != 8 && s.size() != 12 && s.size() != 14) {
        return std::nullopt;
    }
    if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    auto num = [&](size_t at, size_t n) { return std::stoi(std::string(s.substr(at, n))); };
    std::tm tm{};
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(4, 2) - 1;
    tm.tm_mday = num(6, 2);
    if (s.size() >= 12) {
        tm.tm_hour = num(8, 2);
        tm.tm_min = num(10, 2);
    }
    if (s.size() == 14) {
        tm.tm_sec = num(12, 2);
    }
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60) {
        return std::nullopt;
    }
    tm.tm_isdst = -1;
    std::time_t t = utc ? timegm(&tm) : std::mktime(&tm);
    return t * int64_t{1000};
}

bool glob(std::string_view pattern, std::string_view text) {
    size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

bool allows_namespace(const AllowedSigner& s) {
    if (s.namespaces.empty()) {
        return true;
    }
    return principal_matches(k_signoff_namespace, s.namespaces);
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

}  // namespace

bool principal_matches(std::string_view principal, const std::vector<std::string>& patterns) {
    bool matched = false;
    for (const auto& p : patterns) {
        for (const auto& one : split_commas(p)) {
            if (!one.empty() && one.front() == '!') {
                if (glob(std::string_view(one).substr(1), principal)) {
                    return false;
                }
            } else if (glob(one, principal)) {
                matched = true;
            }
        }
    }
    return matched;
}

Result<std::vector<AllowedSigner>> parse_allowed_signers(std::string_view text,
                                                         std::string_view path) {
    std::vector<AllowedSigner> out;
    std::string problems;
    int line_no = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string_view line =
            text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        start = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        std::string_view body = trim(line);
        if (body.empty() || body.front() == '#') {
            continue;
        }
        auto bad = [&](size_t col, const std::string& what) {
            problems += (problems.empty() ? "" : "\n") + std::string(path) + ":" +
                        std::to_string(line_no) + ":" + std::to_string(col + 1) + ": " + what;
        };
        auto fields = fields_of(line);
        if (fields.size() < 3) {
            bad(0,
                "expected 'principals [options] keytype key', as ssh-keygen(1) ALLOWED "
                "SIGNERS describes");
            continue;
        }
        AllowedSigner s;
        s.line = line_no;
        s.principals = split_commas(unquote(fields[0].first));
        size_t key_at = 1;
        auto is_key_type = [](std::string_view w) {
            return w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-");
        };
        bool ok = true;
        if (!is_key_type(fields[1].first)) {
            key_at = 2;
            for (const auto& opt : split_options(fields[1].first)) {
                size_t eq = opt.find('=');
                std::string name = opt.substr(0, eq);
                std::string value = eq == std::string::npos ? "" : unquote(opt.substr(eq + 1));
                if (name == "cert-authority") {
                    bad(fields[1].second,
                        "cert-authority: certificates are not supported yet; "
                        "list each signer's own key");
                    ok = false;
                } else if (name == "namespaces") {
                    s.namespaces = split_commas(value);
                } else if (name == "valid-after" || name == "valid-before") {
                    auto t = parse_signer_time(value);
                    if (!t) {
                        bad(fields[1].second, name + " '" + value +
                                                  "': expected YYYYMMDD, YYYYMMDDHHMM or "
                                                  "YYYYMMDDHHMMSS, with Z for UTC");
                        ok = false;
                    }
                    (name == "valid-after" ? s.valid_after : s.valid_before) = t;
                } else {
                    bad(fields[1].second, "unknown option '" + name +
                                              "' (known: namespaces, valid-after, valid-before)");
                    ok = false;
                }
            }
        }
        if (fields.size() <= key_at + 1) {
            bad(fields.back().second, "missing the key: expected 'keytype base64-key'");
            continue;
        }
        auto key = parse_public_key(fields[key_at].first + " " + fields[key_at + 1].first);
        if (!key) {
            bad(fields[key_at].second, key.error().message());
            continue;
        }
        s.key = std::move(*key);
        if (ok) {
            out.push_back(std::move(s));
        }
    }
    if (!problems.empty()) {
        return fail(Errc::invalid_definition, problems);
    }
    return out;
}

namespace {

// The verdict on one signature, given whether it verified over its message (`verified`, for a
// parsed signature): the checks of check_signature in its order.
Result<std::string> judge(const Result<SshSignature>& sig, const Status& verified,
                          std::string_view role, int64_t signed_at, const Trust& trust) {
    if (!sig) {
        return fail(Errc::invalid_argument, "garbled signature: " + sig.error().message());
    }
    if (sig->name_space != k_signoff_namespace) {
        return fail(Errc::invalid_argument, "wrong namespace: signed for '" + sig->name_space +
                                                "', expected '" + std::string(k_signoff_namespace) +
                                                "'");
    }
    const std::string fp = key_fingerprint(sig->public_key);
    std::vector<const AllowedSigner*> lines;
    for (const auto& a : trust.allowed) {
        if (a.key == sig->public_key && allows_namespace(a)) {
            lines.push_back(&a);
        }
    }
    if (lines.empty()) {
        return fail(Errc::invalid_argument,
                    "signer not allowed: key " + fp + " is not in allowed_signers");
    }
    if (!verified) {
        return fail(Errc::invalid_argument,
                    "signature does not match what it claims to sign (another release, stage, "
                    "role, time or note?): " +
                        verified.error().message());
    }
    std::vector<const AllowedSigner*> valid;
    std::string window;
    for (const auto* a : lines) {
        bool after_ok = !a->valid_after || signed_at >= *a->valid_after;
        bool before_ok = !a->valid_before || signed_at < *a->valid_before;
        if (after_ok && before_ok) {
            valid.push_back(a);
        } else {
            window = (a->valid_after ? " valid-after " + iso_time(*a->valid_after) : "") +
                     (a->valid_before ? " valid-before " + iso_time(*a->valid_before) : "");
        }
    }
    if (valid.empty()) {
        return fail(Errc::invalid_argument, "key " + fp + " (" + join(lines.front()->principals) +
                                                ") was not valid when it signed, at " +
                                                iso_time(signed_at) +
                                                " (allowed_signers:" + window + ")");
    }
    auto it = trust.signers.roles.find(std::string(role));
    if (it != trust.signers.roles.end()) {
        for (const auto& person : it->second) {
            for (const auto* a : valid) {
                if (principal_matches(person, a->principals)) {
                    return person;
                }
            }
        }
    }
    return fail(
        Errc::invalid_argument,
        "signer lacks the role: " + join(valid.front()->principals) + " does not hold role '" +
            std::string(role) + "' in signers.toml" +
            (it == trust.signers.roles.end() ? " (no such role there)"
                                             : " (" + it->first + " = " + join(it->second) + ")"));
}

}  // namespace

Result<std::string> check_signature(std::string_view armored, std::string_view message,
                                    std::string_view role, int64_t signed_at, const Trust& trust) {
    auto sig = parse_sshsig(armored);
    Status verified = sig ? verify_sshsig(*sig, message, k_signoff_namespace) : Status{};
    return judge(sig, verified, role, signed_at, trust);
}

GateReport evaluate_gate(const GateInput& in, const Trust& trust) {
    GateReport report;
    const Stage& stage = *in.stage;
    // Those of this stage and release, in a role the stage asks for, are verified at once
    // (verify_sshsig_batch: every core, each key loaded once); then judged in order.
    struct Candidate {
        const std::string* source;
        const SignOff* sign_off;
        Result<SshSignature> sig;
        std::string message;
    };
    std::vector<Candidate> candidates;
    for (const auto& [source, so] : in.sign_offs) {
        if (so.stage != stage.name) {
            continue;
        }
        if (so.release_id != in.release_id) {
            ++report.voided;
            report.rejected.push_back(
                {source, "signed release id " + short_hash(so.release_id) + ", not " +
                             short_hash(in.release_id) +
                             ": the content changed since this sign-off (voided)"});
            continue;
        }
        auto wanted = std::find_if(stage.sign_offs.begin(), stage.sign_offs.end(),
                                   [&so = so](const auto& r) { return r.first == so.role; });
        if (wanted == stage.sign_offs.end()) {
            report.rejected.push_back(
                {source, "stage " + stage.name + " asks for no '" + so.role + "' sign-offs"});
            continue;
        }
        candidates.push_back({&source, &so, parse_sshsig(so.signature), signoff_message(so)});
    }
    std::vector<SshsigCheck> checks;
    checks.reserve(candidates.size());
    for (const auto& c : candidates) {
        if (c.sig) {
            checks.push_back({&*c.sig, c.message, k_signoff_namespace});
        }
    }
    auto verdicts = verify_sshsig_batch(checks);
    size_t next = 0;
    for (const auto& c : candidates) {
        Status verified = c.sig ? verdicts[next++] : Status{};
        auto person = judge(c.sig, verified, c.sign_off->role, c.sign_off->at, trust);
        if (!person) {
            report.rejected.push_back({*c.source, person.error().message()});
            continue;
        }
        auto& people = report.have[c.sign_off->role];
        if (std::find(people.begin(), people.end(), *person) != people.end()) {
            report.rejected.push_back({*c.source, "duplicate signer: " + *person +
                                                      " already signed as " + c.sign_off->role +
                                                      " (counted once)"});
            continue;
        }
        people.push_back(*person);
    }
    for (const auto& [role, needed] : stage.sign_offs) {
        const auto& people = report.have[role];
        int have = static_cast<int>(people.size());
        if (have < needed) {
            int more = needed - have;
            report.missing.push_back("needs " + std::to_string(more) + " more " + role +
                                     " sign-off" + (more == 1 ? "" : "s") +
                                     " (have: " + (people.empty() ? "none" : join(people)) + ")");
        }
    }
    if (!in.after_done && !stage.after.empty()) {
        report.missing.push_back(stage.after + " run not finished");
    }
    report.ok = report.missing.empty();
    return report;
}

}  // namespace shipshape::release
