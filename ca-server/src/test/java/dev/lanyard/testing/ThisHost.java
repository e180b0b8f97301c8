package dev.lanyard.testing;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import org.junit.jupiter.api.Assumptions;

/** This machine as another host sees it: a client on one of its non-loopback addresses is not loopback. */
public final class ThisHost {

    private ThisHost() {
    }

    /**
     * An IPv4 address of an interface that is up and not loopback. The test fails if there is none, or is
     * skipped on purpose with -Dlanyard.skipOtherHostTests=true.
     */
    public static String nonLoopbackAddress() throws SocketException {
        if (Boolean.getBoolean("lanyard.skipOtherHostTests")) {
            Assumptions.abort("skipped on purpose with -Dlanyard.skipOtherHostTests=true: this test asks from a"
                    + " non-loopback address of this host");
        }
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                if (address instanceof Inet4Address && !address.isLoopbackAddress()) {
                    return address.getHostAddress();
                }
            }
        }
        throw new AssertionError("this test needs a network interface that is up with a non-loopback IPv4 address"
                + " (a client there is not loopback); skip it on purpose with -Dlanyard.skipOtherHostTests=true");
    }

    /** A TCP port nothing listens on now (bound and released: another process may take it, rarely). */
    public static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
