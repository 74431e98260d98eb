// Capabilities of a restricted container (internal to os/linux/container*.cpp).
#pragma once

namespace shipshape::os::linux_detail {

// Drops every capability but the ones an ordinary root program needs to own, chown and switch
// users (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, SETFCAP,
// NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, AUDIT_WRITE: the set container engines give by
// default, without MKNOD) from the bounding, ambient, inheritable, permitted and effective sets
// of the calling thread, so that nothing it execs gets them back. Mounting, device nodes,
// modules, raw I/O, the clock and kernel tunables are out of reach. Only system calls: safe
// between fork and exec. Returns 0, or the errno of the call that failed.
int restrict_capabilities();

}  // namespace shipshape::os::linux_detail
