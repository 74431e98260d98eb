#include "release/sshsig.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/assert.hpp"

namespace shipshape::release {

namespace {

constexpr std::string_view k_magic = "SSHSIG";
constexpr std::string_view k_begin = "-----BEGIN SSH SIGNATURE-----";
constexpr std::string_view k_end = "-----END SSH SIGNATURE-----";

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BldFree {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// The SSH wire format (RFC 4251 §5): uint32, string, mpint — reading only, never past the end.
class Wire {
  public:
    explicit Wire(std::string_view data) : m_rest(data) {}

    std::optional<uint32_t> u32() {
        if (m_rest.size() < 4) {
            return std::nullopt;
        }
        auto b = [&](size_t i) {
            return static_cast<uint32_t>(static_cast<unsigned char>(m_rest[i]));
        };
        uint32_t v = (b(0) << 24U) | (b(1) << 16U) | (b(2) << 8U) | b(3);
        m_rest.remove_prefix(4);
        return v;
    }
    std::optional<std::string_view> string() {
        auto n = u32();
        if (!n || *n > m_rest.size()) {
            return std::nullopt;
        }
        std::string_view s = m_rest.substr(0, *n);
        m_rest.remove_prefix(*n);
        return s;
    }
    bool raw(std::string_view expected) {
        if (!m_rest.starts_with(expected)) {
            return false;
        }
        m_rest.remove_prefix(expected.size());
        return true;
    }
    bool done() const { return m_rest.empty(); }

  private:
    std::string_view m_rest;
};

void put_string(std::string& out, std::string_view s) {
    auto n = static_cast<uint32_t>(s.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((n >> static_cast<unsigned>(shift)) & 0xffU));
    }
    out.append(s);
}

std::optional<std::string> unbase64(std::string_view text) {
    std::string clean;
    clean.reserve(text.size());
    for (char c : text) {
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
            clean.push_back(c);
        }
    }
    if (clean.empty() || clean.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out(clean.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) {
        return std::nullopt;
    }
    size_t pad = clean.ends_with("==") ? 2 : clean.ends_with('=') ? 1 : 0;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()),
                            static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

// The digests, fetched once per process: an explicit fetch spares the method-store lookup (and
// its lock) that EVP_sha256() & co. cost on every use in OpenSSL 3. Falls back to the built-in
// objects when the fetch fails.
struct MdFree {
    void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
struct Digests {
    std::unique_ptr<EVP_MD, MdFree> sha256{EVP_MD_fetch(nullptr, "SHA2-256", nullptr)};
    std::unique_ptr<EVP_MD, MdFree> sha384{EVP_MD_fetch(nullptr, "SHA2-384", nullptr)};
    std::unique_ptr<EVP_MD, MdFree> sha512{EVP_MD_fetch(nullptr, "SHA2-512", nullptr)};
};
const Digests& digests() {
    static const Digests k_digests;
    return k_digests;
}
const EVP_MD* sha256() {
    return digests().sha256 ? digests().sha256.get() : EVP_sha256();
}
const EVP_MD* sha384() {
    return digests().sha384 ? digests().sha384.get() : EVP_sha384();
}
const EVP_MD* sha512() {
    return digests().sha512 ? digests().sha512.get() : EVP_sha512();
}

std::optional<std::string> digest(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) {
        return std::nullopt;
    }
    return std::string(reinterpret_cast<char*>(out), n);
}

const EVP_MD* hash_named(std::string_view name) {
    if (name == "sha256") {
        return sha256();
    }
    if (name == "sha512") {
        return sha512();
    }
    return nullptr;
}

Bn bignum(std::string_view mpint) {
    return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(mpint.data()),
                        static_cast<int>(mpint.size()), nullptr));
}

// A public key from OSSL_PARAMs built by `fill`; null when OpenSSL refuses it.
template <typename Fill>
Pkey key_from_params(const char* algorithm, Fill fill) {
    std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld || !fill(bld.get())) {
        return nullptr;
    }
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return nullptr;
    }
    return Pkey(key);
}

struct Curve {
    std::string_view key_type;
    std::string_view ssh_name;
    const char* group;
    const EVP_MD* (*md)();
};
constexpr Curve k_curves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", "prime256v1", sha256},
    {"ecdsa-sha2-nistp384", "nistp384", "secp384r1", sha384},
    {"ecdsa-sha2-nistp521", "nistp521", "secp521r1", sha512},
};

Error key_error(std::string_view key_type, std::string_view why) {
    return Error(Errc::invalid_argument, std::string(key_type) + " key: " + std::string(why));
}

// A key blob made ready to verify with, once per distinct key. Its two kinds of error keep the
// order in which a check reports them: `shape_error` (a malformed blob, an unsupported type)
// before anything about the signature, `key_error` (a short RSA modulus, a key libcrypto
// refuses) after the signature's own errors. Immutable once built; `key` is only ever read, so
// one LoadedKey serves any number of threads (openssl-threads(7): a shared key, one
// EVP_PKEY_CTX per thread).
struct LoadedKey {
    std::string type;
    std::optional<Error> shape_error;
    std::optional<Error> key_error;
    const Curve* curve = nullptr;  // ECDSA keys
    Pkey key;
};

LoadedKey load_key(std::string_view blob) {
    LoadedKey k;
    Wire w(blob);
    auto type = w.string();
    k.type = std::string(type.value_or(""));
    auto malformed = [&] { k.shape_error = key_error(k.type, "malformed public key"); };
    if (!type) {
        malformed();
    } else if (*type == "ssh-ed25519") {
        auto pk = w.string();
        if (!pk || pk->size() != 32 || !w.done()) {
            malformed();
            return k;
        }
        k.key = Pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(pk->data()),
                                                 pk->size()));
    } else if (*type == "ssh-rsa") {
        auto e = w.string();
        auto n = w.string();
        if (!e || !n || !w.done()) {
            malformed();
            return k;
        }
        Bn bn_e = bignum(*e);
        Bn bn_n = bignum(*n);
        if (!bn_e || !bn_n || BN_num_bits(bn_n.get()) < 1024) {
            k.key_error = key_error(k.type, "the modulus is shorter than 1024 bits");
            return k;
        }
        k.key = key_from_params("RSA", [&](OSSL_PARAM_BLD* b) {
            return OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
                   OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1;
        });
    } else {
        for (const auto& c : k_curves) {
            if (c.key_type == *type) {
                k.curve = &c;
            }
        }
        if (k.curve == nullptr) {
            k.shape_error = Error(Errc::unsupported, "key type '" + k.type +
                                                         "' is not supported (ssh-ed25519, "
                                                         "ecdsa-sha2-nistp256/384/521, ssh-rsa)");
            return k;
        }
        auto name = w.string();
        auto point = w.string();
        if (!name || *name != k.curve->ssh_name || !point || !w.done()) {
            malformed();
            return k;
        }
        std::string_view pub = *point;
        k.key = key_from_params("EC", [&](OSSL_PARAM_BLD* b) {
            return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, k.curve->group,
                                                   0) == 1 &&
                   OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                                    pub.size()) == 1;
        });
    }
    if (!k.shape_error && !k.key_error && !k.key) {
        k.key_error = key_error(k.type, "the public key is not valid");
    }
    return k;
}

// The digest to verify with (null: none, as for ed25519) and the signature as libcrypto wants
// it. `der` holds an ECDSA signature re-encoded; otherwise `signature` points into `sig`.
struct Converted {
    const EVP_MD* md = nullptr;
    std::string der;
    std::string_view signature;
};

Result<Converted> convert_signature(const SshSignature& sig, const LoadedKey& key) {
    auto bad = [&](const std::string& why) { return fail(key_error(sig.key_type, why)); };
    Converted c;
    if (sig.key_type == "ssh-ed25519") {
        if (sig.signature_type != "ssh-ed25519" || sig.signature.size() != 64) {
            return bad("signature of type '" + sig.signature_type + "' (" +
                       std::to_string(sig.signature.size()) + " bytes) does not fit the key");
        }
        c.signature = sig.signature;
    } else if (sig.key_type == "ssh-rsa") {
        if (sig.signature_type == "rsa-sha2-256") {
            c.md = sha256();
        } else if (sig.signature_type == "rsa-sha2-512") {
            c.md = sha512();
        } else {
            return bad("signature type '" + sig.signature_type +
                       "' is not allowed (rsa-sha2-256 or rsa-sha2-512)");
        }
        c.signature = sig.signature;
    } else {
        if (sig.signature_type != sig.key_type) {
            return bad("signature of type '" + sig.signature_type + "' does not fit the key");
        }
        Wire rs(sig.signature);
        auto r = rs.string();
        auto s = rs.string();
        if (!r || !s || !rs.done()) {
            return bad("malformed ECDSA signature");
        }
        std::unique_ptr<ECDSA_SIG, EcdsaSigFree> es(ECDSA_SIG_new());
        Bn bn_r = bignum(*r);
        Bn bn_s = bignum(*s);
        if (!es || !bn_r || !bn_s || ECDSA_SIG_set0(es.get(), bn_r.get(), bn_s.get()) != 1) {
            return bad("malformed ECDSA signature");
        }
        (void)bn_r.release();  // owned by es now
        (void)bn_s.release();
        unsigned char* der = nullptr;
        int der_len = i2d_ECDSA_SIG(es.get(), &der);
        if (der_len <= 0) {
            return bad("malformed ECDSA signature");
        }
        c.der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
        OPENSSL_free(der);
        c.md = key.curve->md();
        c.signature = c.der;
    }
    return c;
}

// What one verifying thread reuses from check to check: its digest context and the buffer the
// signed data is assembled in.
struct Worker {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx{EVP_MD_CTX_new()};
    std::string signed_data;
};

// One check, in verify_sshsig's order: namespace, hash, key shape, signature, key, the math.
Status check_one(const SshSignature& sig, std::string_view message, std::string_view name_space,
                 const LoadedKey& key, Worker& worker) {
    if (sig.name_space != name_space) {
        return fail(Errc::invalid_argument, "signature namespace is '" + sig.name_space +
                                                "', expected '" + std::string(name_space) + "'");
    }
    const EVP_MD* hash = hash_named(sig.hash_algorithm);
    auto hashed = hash ? digest(hash, message) : std::nullopt;
    if (!hashed) {
        return fail(Errc::invalid_argument,
                    "hash algorithm '" + sig.hash_algorithm + "' is not supported");
    }
    if (key.type != sig.key_type) {
        return fail(key_error(sig.key_type, "malformed public key"));
    }
    if (key.shape_error) {
        return fail(*key.shape_error);
    }
    auto converted = convert_signature(sig, key);
    if (!converted) {
        return fail(converted.error());
    }
    if (key.key_error) {
        return fail(*key.key_error);
    }
    std::string& data = worker.signed_data;
    data.assign(k_magic);
    put_string(data, sig.name_space);
    put_string(data, "");
    put_string(data, sig.hash_algorithm);
    put_string(data, *hashed);
    EVP_MD_CTX* ctx = worker.ctx.get();
    if (ctx == nullptr || EVP_MD_CTX_reset(ctx) != 1 ||
        EVP_DigestVerifyInit(ctx, nullptr, converted->md, nullptr, key.key.get()) != 1) {
        return fail(Errc::internal, "libcrypto could not set up a " + sig.key_type + " check");
    }
    int ok =
        EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(converted->signature.data()),
                         converted->signature.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size());
    if (ok != 1) {
        return fail(Errc::invalid_argument,
                    "the " + sig.key_type +
                        " signature does not match "
                        "the message (signed over other content, or altered)");
    }
    return {};
}

}  // namespace

Result<SshSignature> parse_sshsig(std::string_view armored) {
    auto bad = [](const std::string& why) {
        return fail(Errc::invalid_argument, "SSH signature: " + why);
    };
    size_t begin = armored.find(k_begin);
    size_t end = armored.find(k_end);
    if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
        return bad("no '" + std::string(k_begin) + "' … '" + std::string(k_end) + "' block");
    }
    auto blob = unbase64(armored.substr(begin + k_begin.size(), end - begin - k_begin.size()));
    if (!blob) {
        return bad("the armored text is not valid base64");
    }
    Wire w(*blob);
    if (!w.raw(k_magic)) {
        return bad("not an SSHSIG blob (no 'SSHSIG' preamble)");
    }
    auto version = w.u32();
    if (!version) {
        return bad("truncated");
    }
    if (*version != 1) {
        return bad("version " + std::to_string(*version) + " is not supported (1)");
    }
    auto key = w.string();
    auto name_space = w.string();
    auto reserved = w.string();
    auto hash = w.string();
    auto signature = w.string();
    if (!key || !name_space || !reserved || !hash || !signature) {
        return bad("truncated");
    }
    if (!w.done()) {
        return bad("trailing bytes after the signature");
    }
    if (hash_named(*hash) == nullptr) {
        return bad("hash algorithm '" + std::string(*hash) + "' is not supported (sha256, sha512)");
    }
    Wire key_wire(*key);
    auto key_type = key_wire.string();
    Wire sig_wire(*signature);
    auto sig_type = sig_wire.string();
    auto sig_blob = sig_wire.string();
    if (!key_type || !sig_type || !sig_blob || !sig_wire.done()) {
        return bad("garbled public key or signature");
    }
    return SshSignature{std::string(*key),  std::string(*key_type), std::string(*name_space),
                        std::string(*hash), std::string(*sig_type), std::string(*sig_blob)};
}

Status verify_sshsig(const SshSignature& sig, std::string_view message,
                     std::string_view name_space) {
    Worker worker;
    return check_one(sig, message, name_space, load_key(sig.public_key), worker);
}

std::vector<Status> verify_sshsig_batch(const std::vector<SshsigCheck>& checks, unsigned threads) {
    // Every distinct key is loaded once, before any thread starts: the workers only read the
    // cache, so it needs no lock.
    std::unordered_map<std::string_view, LoadedKey> keys;
    std::vector<const LoadedKey*> key_of;
    key_of.reserve(checks.size());
    for (const auto& c : checks) {
        SHIPSHAPE_ASSERT(c.sig != nullptr);
        auto it = keys.find(c.sig->public_key);
        if (it == keys.end()) {
            it = keys.emplace(c.sig->public_key, load_key(c.sig->public_key)).first;
        }
        key_of.push_back(&it->second);
    }
    if (threads == 0) {
        threads = std::max(1U, std::thread::hardware_concurrency());
    }
    threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(checks.size(), 1)));

    std::vector<Status> results(checks.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
        Worker worker;
        for (size_t i = next++; i < checks.size(); i = next++) {
            results[i] = check_one(*checks[i].sig, checks[i].message, checks[i].name_space,
                                   *key_of[i], worker);
        }
    };
    std::vector<std::thread> helpers;
    helpers.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t) {
        try {
            helpers.emplace_back(work);
        } catch (const std::system_error&) {
            break;  // fewer threads: the calling thread and those started do all the work
        }
    }
    work();
    for (auto& h : helpers) {
        h.join();
    }
    return results;
}

Result<std::string> parse_public_key(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return fail(Errc::invalid_argument, "public key: " + why);
    };
    size_t sp = text.find(' ');
    if (sp == std::string_view::npos) {
        return bad("expected 'TYPE BASE64 [COMMENT]'");
    }
    std::string_view type = text.substr(0, sp);
    std::string_view rest = text.substr(sp + 1);
    rest = rest.substr(0, rest.find(' '));
    auto blob = unbase64(rest);
    if (!blob) {
        return bad("the key is not valid base64");
    }
    Wire w(*blob);
    auto inner = w.string();
    if (!inner || *inner != type) {
        return bad("the key says it is '" + std::string(inner.value_or("?")) + "', the line '" +
                   std::string(type) + "'");
    }
    return *blob;
}

std::string key_fingerprint(std::string_view public_key) {
    std::string b64 = base64(digest(sha256(), public_key).value_or(""));
    while (b64.ends_with('=')) {
        b64.pop_back();
    }
    return "SHA256:" + b64;
}

}  // namespace shipshape::release
