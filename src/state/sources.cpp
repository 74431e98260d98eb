// Sources read beneath the ops repo (see sources.hpp).
#include "state/sources.hpp"

#include <sys/stat.h>

#include <cstring>

#include "os/beneath.hpp"

namespace shipshape::state {

namespace {

// The reason for a source the resolver refused, in the words of the `source` key.
std::string refused(const std::string& source, const Error& e, const std::string& key = "source") {
    if (e.code() == Errc::permission_denied &&
        e.message().find(" is a symlink (-> ") != std::string::npos) {
        return key + " \"" + source + "\" leaves the ops repo: " + e.message() +
               "; sources must stay inside the ops repo (a relative symlink to a file in the "
               "repo is fine)";
    }
    // The resolver's message is "PATH: <reason>" (or names a component); keep the reason.
    std::string why = e.message();
    if (why.compare(0, source.size() + 2, source + ": ") == 0) {
        why = why.substr(source.size() + 2);
    }
    return key + " \"" + source + "\" cannot be read (" + why + "); " +
           (key == "source" ? "sources are" : "it is") + " relative to the ops repo";
}

}  // namespace

std::optional<std::string> read_file_source(int repo_fd, const std::string& source,
                                            std::string& out) {
    auto fd = os::open_file_beneath(repo_fd, source, os::Follow::within, "");
    if (!fd) {
        return refused(source, fd.error());
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return "source \"" + source + "\" is not a regular file in the ops repo";
    }
    auto text = os::read_fd(fd->get(), source);
    if (!text) {
        return refused(source, text.error());
    }
    out = std::move(*text);
    return std::nullopt;
}

std::optional<std::string> check_deb_source(int repo_fd, const std::string& deb) {
    auto fd = os::open_file_beneath(repo_fd, deb, os::Follow::within, "");
    if (!fd) {
        return refused(deb, fd.error(), "deb");
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return "deb \"" + deb + "\" is not a regular file in the ops repo";
    }
    return std::nullopt;
}

std::optional<std::string> check_tree_source(int repo_fd, const std::string& source) {
    auto dir = os::open_dir_beneath(repo_fd, source, os::Create::no, os::Follow::within, "");
    if (!dir) {
        if (dir.error().code() == Errc::permission_denied) {
            return refused(source, dir.error());
        }
        return "source \"" + source + "\" is not a directory in the ops repo";
    }
    return std::nullopt;
}

}  // namespace shipshape::state
