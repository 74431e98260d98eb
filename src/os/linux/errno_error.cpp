#include "os/errno_error.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace shipshape::os {

Error errno_error(std::string_view context, int err) {
    Errc code = Errc::io;
    switch (err) {
        case ENOENT:
        case ENOTDIR:
            code = Errc::not_found;
            break;
        case EACCES:
        case EPERM:
        case EROFS:
            code = Errc::permission_denied;
            break;
        case EEXIST:
            code = Errc::already_exists;
            break;
        case ENOSYS:
        case EOPNOTSUPP:
            code = Errc::unsupported;
            break;
        case EINTR:
            code = Errc::interrupted;
            break;
        case ETIMEDOUT:
            code = Errc::timeout;
            break;
        default:
            break;
    }
    std::string text(context);
    text += ": ";
    text += std::strerror(err);
    return Error(code, std::move(text));
}

}  // namespace shipshape::os
