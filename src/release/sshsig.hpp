// OpenSSH signatures (SSHSIG, OpenSSH's PROTOCOL.sshsig) read and verified natively with
// libcrypto: what `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks, without a
// process per signature. Keys: ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa (signed as
// rsa-sha2-256 or rsa-sha2-512). Security keys (sk-*) are not supported yet.
//
// Pure functions of their inputs; thread-safe. verify_sshsig_batch spreads many checks over
// threads of its own, loading each distinct key once. Every failure says what is wrong in words a
// person can act on ("signature namespace is 'file', expected 'shipshape-signoff'").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::release {

// A parsed SSHSIG. `public_key` is the signer's key in SSH wire form (the blob that base64
// encodes in an authorized_keys or allowed_signers line).
struct SshSignature {
    std::string public_key;
    std::string key_type;        // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
    std::string name_space;      // the namespace it was made for ("shipshape-signoff")
    std::string hash_algorithm;  // "sha256" or "sha512": how the message was hashed
    std::string signature_type;  // "ssh-ed25519", "rsa-sha2-512", ...
    std::string signature;       // the raw signature blob of that type
};

// Reads the armored form ("-----BEGIN SSH SIGNATURE-----" … "-----END SSH SIGNATURE-----").
// Errc::invalid_argument naming what is wrong: no armor, bad base64, a truncated or garbled
// blob, an unknown version, an unsupported hash.
[[nodiscard]] Result<SshSignature> parse_sshsig(std::string_view armored);

// Checks that `sig` signs `message` for `name_space` with the key it names. Errc::invalid_argument
// for a signature that does not verify (wrong namespace, another message, a mismatched key and
// signature type), Errc::unsupported for a key type this build cannot check.
[[nodiscard]] Status verify_sshsig(const SshSignature& sig, std::string_view message,
                                   std::string_view name_space);

// One check for verify_sshsig_batch: `sig` (never null) signs `message` for `name_space`. The
// pointed-to signature and the viewed text must outlive the call.
struct SshsigCheck {
    const SshSignature* sig;
    std::string_view message;
    std::string_view name_space;
};

// verify_sshsig of every check, result i for check i, each exactly what verify_sshsig returns
// (same Errc, same message). Faster for many checks: each distinct key blob is turned into a
// libcrypto key once and shared read-only, digests are fetched once, and `threads` threads
// (0: the hardware's count; never more than there are checks) each reuse one digest context.
// The calling thread is one of them; if the system refuses a thread, fewer do the work.
[[nodiscard]] std::vector<Status> verify_sshsig_batch(const std::vector<SshsigCheck>& checks,
                                                      unsigned threads = 0);

// The key blob of an OpenSSH public key text, "ssh-ed25519 AAAA… [comment]" (the key part of an
// allowed_signers line). Errc::invalid_argument when it is not one, or its type word disagrees
// with the blob.
[[nodiscard]] Result<std::string> parse_public_key(std::string_view text);

// "SHA256:…" as `ssh-keygen -l` prints a key's fingerprint (base64 without padding).
std::string key_fingerprint(std::string_view public_key);

}  // namespace shipshape::release
