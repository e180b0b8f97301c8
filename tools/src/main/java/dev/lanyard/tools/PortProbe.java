package dev.lanyard.tools;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** After a failed TLS handshake: does the port speak plain HTTP (the publication port given as --server)? */
final class PortProbe {

    private PortProbe() {
    }

    static boolean answersPlainHttp(String hostPort) {
        try {
            Channels.HostPort target = Channels.HostPort.parse(hostPort);
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(target.host(), target.port()), 2_000);
                socket.setSoTimeout(2_000);
                socket.getOutputStream().write(("HEAD /healthz HTTP/1.1\r\nHost: " + target.host()
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                InputStream in = socket.getInputStream();
                byte[] start = in.readNBytes(5);
                return new String(start, StandardCharsets.US_ASCII).equals("HTTP/");
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
