#include "release/sshsig.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

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
        return EVP_sha256();
    }
    if (name == "sha512") {
        return EVP_sha512();
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
    {"ecdsa-sha2-nistp256", "nistp256", "prime256v1", EVP_sha256},
    {"ecdsa-sha2-nistp384", "nistp384", "secp384r1", EVP_sha384},
    {"ecdsa-sha2-nistp521", "nistp521", "secp521r1", EVP_sha512},
};

// The key, the digest to verify with (null: none, as for ed25519) and the signature as
// libcrypto wants it, from the SSH forms. Errors are phrases.
struct Prepared {
    Pkey key;
    const EVP_MD* md = nullptr;
    std::string signature;
};

Result<Prepared> prepare(const SshSignature& sig) {
    auto bad = [&](const std::string& why) {
        return fail(Errc::invalid_argument, sig.key_type + " key: " + why);
    };
    Wire key(sig.public_key);
    auto type = key.string();
    if (!type || *type != sig.key_type) {
        return bad("malformed public key");
    }
    Prepared p;
    if (sig.key_type == "ssh-ed25519") {
        auto pk = key.string();
        if (!pk || pk->size() != 32 || !key.done()) {
            return bad("malformed public key");
        }
        if (sig.signature_type != "ssh-ed25519" || sig.signature.size() != 64) {
            return bad("signature of type '" + sig.signature_type + "' (" +
                       std::to_string(sig.signature.size()) + " bytes) does not fit the key");
        }
        p.key = Pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(pk->data()),
                                                 pk->size()));
        p.signature = sig.signature;
    } else if (sig.key_type == "ssh-rsa") {
        auto e = key.string();
        auto n = key.string();
        if (!e || !n || !key.done()) {
            return bad("malformed public key");
        }
        if (sig.signature_type == "rsa-sha2-256") {
            p.md = EVP_sha256();
        } else if (sig.signature_type == "rsa-sha2-512") {
            p.md = EVP_sha512();
        } else {
            return bad("signature type '" + sig.signature_type +
                       "' is not allowed (rsa-sha2-256 or rsa-sha2-512)");
        }
        Bn bn_e = bignum(*e);
        Bn bn_n = bignum(*n);
        if (!bn_e || !bn_n || BN_num_bits(bn_n.get()) < 1024) {
            return bad("the modulus is shorter than 1024 bits");
        }
        p.key = key_from_params("RSA", [&](OSSL_PARAM_BLD* b) {
            return OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
                   OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1;
        });
        p.signature = sig.signature;
    } else {
        const Curve* curve = nullptr;
        for (const auto& c : k_curves) {
            if (c.key_type == sig.key_type) {
                curve = &c;
            }
        }
        if (curve == nullptr) {
            return fail(Errc::unsupported, "key type '" + sig.key_type +
                                               "' is not supported (ssh-ed25519, "
                                               "ecdsa-sha2-nistp256/384/521, ssh-rsa)");
        }
        auto name = key.string();
        auto point = key.string();
        if (!name || *name != curve->ssh_name || !point || !key.done()) {
            return bad("malformed public key");
        }
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
        p.signature.assign(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
        OPENSSL_free(der);
        p.md = curve->md();
        std::string pub(*point);
        p.key = key_from_params("EC", [&](OSSL_PARAM_BLD* b) {
            return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curve->group,
                                                   0) == 1 &&
                   OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                                    pub.size()) == 1;
        });
    }
    if (!p.key) {
        return bad("the public key is not valid");
    }
    return p;
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
    auto p = prepare(sig);
    if (!p) {
        return fail(p.error());
    }
    std::string signed_data(k_magic);
    put_string(signed_data, sig.name_space);
    put_string(signed_data, "");
    put_string(signed_data, sig.hash_algorithm);
    put_string(signed_data, *hashed);
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, p->md, nullptr, p->key.get()) != 1) {
        return fail(Errc::internal, "libcrypto could not set up a " + sig.key_type + " check");
    }
    int ok = EVP_DigestVerify(
        ctx.get(), reinterpret_cast<const unsigned char*>(p->signature.data()), p->signature.size(),
        reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size());
    if (ok != 1) {
        return fail(Errc::invalid_argument,
                    "the " + sig.key_type +
                        " signature does not match "
                        "the message (signed over other content, or altered)");
    }
    return {};
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
    std::string b64 = base64(digest(EVP_sha256(), public_key).value_or(""));
    while (b64.ends_with('=')) {
        b64.pop_back();
    }
    return "SHA256:" + b64;
}

}  // namespace shipshape::release
