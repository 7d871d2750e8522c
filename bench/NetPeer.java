import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * The host end of bench/net.sh (run with the JDK's source launcher). One connection each:
 *   sink IP PORT BYTES     reads BYTES, then closes; prints "BYTES SECONDS" from the first byte to the last
 *   source IP PORT BYTES   writes BYTES, closes its side, waits for the peer to close; prints "BYTES SECONDS"
 *                          from the connection to the peer's close (the guest has read everything)
 */
public class NetPeer {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        InetAddress ip = InetAddress.getByName(args[1]);
        int port = Integer.parseInt(args[2]);
        long bytes = Long.parseLong(args[3]);
        byte[] buf = new byte[256 * 1024];
        try (ServerSocket server = new ServerSocket(port, 1, ip)) {
            System.err.println("NetPeer " + mode + " listening on " + ip.getHostAddress() + ":" + port);
            try (Socket s = server.accept()) {
                long t0 = System.nanoTime();
                long done = 0;
                if (mode.equals("sink")) {
                    InputStream in = s.getInputStream();
                    boolean first = true;
                    while (done < bytes) {
                        int n = in.read(buf, 0, (int) Math.min(buf.length, bytes - done));
                        if (n < 0) {
                            break;
                        }
                        if (first) {
                            t0 = System.nanoTime();
                            first = false;
                        }
                        done += n;
                    }
                } else {
                    OutputStream out = s.getOutputStream();
                    while (done < bytes) {
                        int n = (int) Math.min(buf.length, bytes - done);
                        out.write(buf, 0, n);
                        done += n;
                    }
                    s.shutdownOutput();
                    while (s.getInputStream().read(buf) >= 0) {
                        // until the guest closes: it has read everything
                    }
                }
                System.out.printf("%d %.3f%n", done, (System.nanoTime() - t0) / 1e9);
            }
        }
    }
}
