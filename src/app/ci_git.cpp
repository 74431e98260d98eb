// Git for CI (ci_service.hpp): every operation is the git CLI run with an argv through the
// ProcessRunner (no shell, so refs, paths and notes reach git as single arguments), with a
// fixed identity for the notes it writes and without the user's pager or prompts.
#include <unistd.h>

#include <filesystem>

#include "app/ci_service.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

// git's own environment for every call: no prompt for credentials, no pager, and the identity
// the notes are written by.
std::vector<std::string> git_env() {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view kv(*e);
        if (kv.starts_with("GIT_DIR=") || kv.starts_with("GIT_WORK_TREE=") ||
            kv.starts_with("GIT_INDEX_FILE=")) {
            continue;  // a hook runs with GIT_DIR set; every call here names its repository
        }
        env.emplace_back(kv);
    }
    env.emplace_back("GIT_TERMINAL_PROMPT=0");
    env.emplace_back("GIT_PAGER=cat");
    env.emplace_back("GIT_AUTHOR_NAME=shipshape-ci");
    env.emplace_back("GIT_AUTHOR_EMAIL=shipshape-ci@localhost");
    env.emplace_back("GIT_COMMITTER_NAME=shipshape-ci");
    env.emplace_back("GIT_COMMITTER_EMAIL=shipshape-ci@localhost");
    return env;
}

struct GitOutput {
    int code = 0;
    std::string out;
    std::string err;
};

Result<GitOutput> git(os::ProcessRunner& runner, std::vector<std::string> args,
                      std::vector<std::string> extra_env = {}) {
    os::ProcessSpec spec;
    spec.argv = {"git"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    auto env = git_env();
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    spec.env = std::move(env);
    spec.errors = os::Stderr::separate;
    os::CollectSink sink;
    auto outcome = runner.run(spec, sink, nullptr);
    if (!outcome) {
        return tl::unexpected(outcome.error().context("running git"));
    }
    GitOutput r;
    r.code = outcome->success() ? 0 : (outcome->code == 0 ? 1 : outcome->code);
    r.out = std::move(sink.out);
    r.err = std::move(sink.err);
    return r;
}

Error git_failed(std::string_view what, const GitOutput& r) {
    std::string why(trim(r.err));
    if (why.empty()) {
        why = "exit " + std::to_string(r.code);
    }
    return Error(Errc::io, std::string(what) + ": " + why);
}

// A repository named by its working tree means its .git; a bare one is its own.
std::string git_dir_of(const std::string& repo) {
    std::error_code ec;
    return std::filesystem::exists(repo + "/.git", ec) ? repo + "/.git" : repo;
}

}  // namespace

bool git_is_local_repo(const std::string& repo) {
    return repo.find("://") == std::string::npos && std::filesystem::is_directory(repo);
}

Result<std::string> git_toplevel(os::ProcessRunner& runner, const std::string& dir) {
    auto r = git(runner, {"-C", dir, "rev-parse", "--show-toplevel"});
    if (!r) {
        return tl::unexpected(r.error());
    }
    if (r->code != 0) {
        return tl::unexpected(
            Error(Errc::not_found, "'" + dir +
                                       "' is not in a git working tree: `ci run` runs the jobs "
                                       "of an application's repository (git init, then add "
                                       ".shipshape-ci.toml)"));
    }
    return std::string(trim(r->out));
}

Result<std::optional<std::string>> git_show_file(os::ProcessRunner& runner,
                                                 const std::string& git_dir,
                                                 const std::string& commit,
                                                 const std::string& path) {
    const std::string dir = git_dir_of(git_dir);
    auto type = git(runner, {"--git-dir", dir, "cat-file", "-t", commit + "^{commit}"});
    if (!type) {
        return tl::unexpected(type.error());
    }
    if (type->code != 0) {
        return tl::unexpected(
            Error(Errc::not_found, "no commit '" + commit + "' in '" + git_dir + "'"));
    }
    auto r = git(runner, {"--git-dir", dir, "cat-file", "blob", commit + ":" + path});
    if (!r) {
        return tl::unexpected(r.error());
    }
    if (r->code != 0) {
        return std::optional<std::string>();
    }
    return std::optional<std::string>(std::move(r->out));
}

Status git_checkout(os::ProcessRunner& runner, const std::string& repo, const std::string& commit,
                    const std::string& dest) {
    if (git_is_local_repo(repo)) {
        auto clone =
            git(runner, {"clone", "--quiet", "--shared", "--no-checkout", "--", repo, dest});
        if (!clone) {
            return tl::unexpected(clone.error());
        }
        if (clone->code != 0) {
            return tl::unexpected(git_failed("cloning '" + repo + "'", *clone));
        }
    } else {
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {"init", "--quiet", dest},
                 {"-C", dest, "fetch", "--quiet", "--depth", "1", "--", repo, commit}}) {
            auto r = git(runner, args);
            if (!r) {
                return tl::unexpected(r.error());
            }
            if (r->code != 0) {
                return tl::unexpected(
                    git_failed("fetching " + commit + " from '" + repo + "'", *r));
            }
        }
    }
    auto co = git(runner, {"-C", dest, "-c", "advice.detachedHead=false", "checkout", "--quiet",
                           "--detach", commit, "--"});
    if (!co) {
        return tl::unexpected(co.error());
    }
    if (co->code != 0) {
        return tl::unexpected(git_failed("checking out " + commit, *co));
    }
    return {};
}

Result<std::string> git_copy_working_tree(os::ProcessRunner& runner, const std::string& top,
                                          const std::string& dest) {
    // A private index seeded from the user's (so unchanged files are not hashed again), then
    // `add -A`: the index now says what the working tree holds, as git sees it.
    std::string index = dest + ".index";
    if (auto st = os::make_local_file_system()->create_directories(os::path_parent(dest)); !st) {
        return tl::unexpected(st.error());
    }
    // Where git keeps the index (a linked worktree's is not in .git/ of the tree).
    std::string user_index;
    if (auto path =
            git(runner, {"-C", top, "rev-parse", "--path-format=absolute", "--git-path", "index"});
        path && path->code == 0) {
        user_index = std::string(trim(path->out));
    }
    std::error_code ec;
    if (!user_index.empty() && std::filesystem::exists(user_index)) {
        std::filesystem::copy_file(user_index, index,
                                   std::filesystem::copy_options::overwrite_existing, ec);
    }
    std::vector<std::string> with_index{"GIT_INDEX_FILE=" + index};
    auto add = git(runner, {"-C", top, "add", "--all", "--", "."}, with_index);
    if (!add) {
        return tl::unexpected(add.error());
    }
    if (add->code != 0) {
        std::filesystem::remove(index, ec);
        return tl::unexpected(git_failed("reading the working tree '" + top + "'", *add));
    }
    auto tree = git(runner, {"-C", top, "write-tree"}, with_index);
    if (!tree || tree->code != 0) {
        std::filesystem::remove(index, ec);
        return tree ? tl::unexpected(git_failed("writing the working tree's tree", *tree))
                    : tl::unexpected(tree.error());
    }
    std::string tree_id(trim(tree->out));
    // checkout-index writes the private index's files (with their modes and symlinks) under
    // dest; the user's working tree and index are not touched.
    if (auto st = os::make_local_file_system()->create_directories(dest); !st) {
        std::filesystem::remove(index, ec);
        return tl::unexpected(st.error());
    }
    auto co =
        git(runner, {"-C", top, "checkout-index", "--all", "--force", "--prefix=" + dest + "/"},
            with_index);
    std::filesystem::remove(index, ec);
    if (!co) {
        return tl::unexpected(co.error());
    }
    if (co->code != 0) {
        return tl::unexpected(git_failed("copying the working tree to '" + dest + "'", *co));
    }
    return tree_id;
}

Status git_write_note(os::ProcessRunner& runner, const std::string& git_dir,
                      const std::string& commit, const std::string& text) {
    auto r = git(runner, {"--git-dir", git_dir_of(git_dir), "notes", "--ref", k_ci_notes_ref, "add",
                          "--force", "--message", text, commit});
    if (!r) {
        return tl::unexpected(r.error());
    }
    if (r->code != 0) {
        return tl::unexpected(git_failed("writing the CI note of " + commit, *r));
    }
    return {};
}

}  // namespace shipshape::app
