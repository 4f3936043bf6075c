/*
 * Loads the stores kpa-init writes exactly as the Kafka broker's JVM does (KeyStore "PKCS12"
 * with the store password), prints what Java sees in them, then runs a mutual-TLS handshake on
 * loopback with HTTPS endpoint identification against the pod's host name.
 *
 * Usage: java TlsProbe <keystore.p12> <truststore.p12> <password-file> <host> [<uncovered-host>]
 * Every step is bounded: sockets time out and the program gives up after 20 seconds.
 */
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class TlsProbe {
    private static final int TIMEOUT_MS = 10000;

    public static void main(String[] args) throws Exception {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(20000);
                System.out.println("timeout");
                System.exit(3);
            } catch (InterruptedException e) {
                // The probe finished in time.
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();

        char[] password = Files.readString(Path.of(args[2]), StandardCharsets.US_ASCII).toCharArray();
        KeyStore ks = load(args[0], password);
        KeyStore ts = load(args[1], password);
        describe("keystore", ks);
        describe("truststore", ts);

        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);

        System.out.println(handshake(ctx, args[3]));
        if (args.length > 4)
            System.out.println(handshake(ctx, args[4]));
        watchdog.interrupt();
    }

    private static KeyStore load(String path, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            ks.load(in, password);
        }
        return ks;
    }

    private static void describe(String what, KeyStore ks) throws Exception {
        int trusted = 0;
        System.out.println(what + " entries " + ks.size());
        for (String alias : Collections.list(ks.aliases())) {
            if (ks.isKeyEntry(alias)) {
                Certificate[] chain = ks.getCertificateChain(alias);
                X509Certificate leaf = (X509Certificate) chain[0];
                System.out.println(what + " " + alias + " PrivateKeyEntry chain " + chain.length
                        + " key " + leaf.getPublicKey().getAlgorithm()
                        + " leaf " + leaf.getSubjectX500Principal().getName());
            } else if (ks.isCertificateEntry(alias)) {
                trusted++;
                X509Certificate c = (X509Certificate) ks.getCertificate(alias);
                System.out.println(what + " " + alias + " trustedCertEntry " + c.getSubjectX500Principal().getName());
            }
        }
        System.out.println(what + " trusted " + trusted);
    }

    /* The server needs a client certificate; the client layers TLS over a plain loopback
     * connection but names the pod's host, so HTTPS identification checks that name. */
    private static String handshake(SSLContext ctx, String host) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SSLServerSocket server = (SSLServerSocket) ctx.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            server.setNeedClientAuth(true);
            server.setSoTimeout(TIMEOUT_MS);
            Future<String> accepted = pool.submit(() -> {
                try (SSLSocket s = (SSLSocket) server.accept()) {
                    s.setSoTimeout(TIMEOUT_MS);
                    s.startHandshake();
                    X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
                    s.getOutputStream().write('k');
                    s.getOutputStream().flush();
                    return peer.getSubjectX500Principal().getName();
                } catch (Exception e) {
                    return "server failed";
                }
            });
            Socket plain = new Socket();
            plain.connect(new InetSocketAddress("127.0.0.1", server.getLocalPort()), TIMEOUT_MS);
            plain.setSoTimeout(TIMEOUT_MS);
            String protocol;
            int b;
            try (SSLSocket client = (SSLSocket) ctx.getSocketFactory()
                    .createSocket(plain, host, server.getLocalPort(), true)) {
                SSLParameters p = client.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                client.setSSLParameters(p);
                client.startHandshake();
                b = client.getInputStream().read();
                protocol = client.getSession().getProtocol();
            } catch (javax.net.ssl.SSLException e) {
                return "handshake " + host + " refused: " + e.getMessage();
            }
            // The client is closed first: a TLS 1.3 server may wait for its close_notify.
            String clientSeen = accepted.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            return "handshake " + host + " ok " + protocol + " client-read " + (char) b
                    + " server-saw-client-cert " + clientSeen;
        } finally {
            pool.shutdownNow();
        }
    }
}
