package org.jvisor.backend.net;

import org.jvisor.sys.Ioctl;

/**
 * The TAP device's interface (linux/if_tun.h, Documentation/networking/tuntap.rst): its ioctls,
 * interface flags and offload bits, and struct ifreq as TUNSETIFF takes it.
 */
final class Tun {
    static final String DEVICE = "/dev/net/tun";

    // _IOW('T', n, int) and _IOR('T', n, unsigned int)
    static final long TUNSETIFF = Ioctl.iow('T', 202, 4);
    static final long TUNGETFEATURES = Ioctl.ior('T', 207, 4);
    static final long TUNSETOFFLOAD = Ioctl.iow('T', 208, 4);
    static final long TUNSETVNETHDRSZ = Ioctl.iow('T', 216, 4);
    static final long TUNGETIFF = Ioctl.ior('T', 210, 4);

    static final int IFF_TUN = 0x0001;
    static final int IFF_TAP = 0x0002;
    static final int IFF_NO_PI = 0x1000;
    static final int IFF_VNET_HDR = 0x4000;

    static final int TUN_F_CSUM = 0x01;
    static final int TUN_F_TSO4 = 0x02;
    static final int TUN_F_TSO6 = 0x04;
    static final int TUN_F_TSO_ECN = 0x08;

    /** struct ifreq: char ifr_name[16], then a union whose first member is short ifr_flags. */
    static final int IFREQ_SIZE = 40;
    static final int IFNAMSIZ = 16;

    private Tun() {
    }
}
