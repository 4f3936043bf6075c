import java.io.IOException;
import java.io.StreamTokenizer;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

/**
 * Reads a sasl.jaas.config value (args[0]) with a java.io.StreamTokenizer set up the way
 * Kafka's org.apache.kafka.common.security.JaasConfig sets up its own, and prints what Kafka
 * would see, one line each: "module <class>", "flag <flag>", then "<key> <value as UTF-8 hex>"
 * per option in order. Exits 1 with the reason on stderr when Kafka would refuse the string.
 * Used by check_sasl to prove that passwords round-trip through the JAAS quoting.
 */
public final class JaasParse {
    public static void main(String[] args) throws IOException {
        StreamTokenizer t = new StreamTokenizer(new StringReader(args[0]));
        t.resetSyntax();
        t.wordChars(32, 128);
        t.wordChars(128 + 32, 255);
        t.ordinaryChar(';');
        t.ordinaryChar('=');
        t.whitespaceChars(0, ' ');
        t.commentChar('/');
        t.quoteChar('"');
        t.quoteChar('\'');
        t.slashSlashComments(true);
        t.slashStarComments(true);

        StringBuilder out = new StringBuilder();
        int entries = 0;
        while (t.nextToken() != StreamTokenizer.TT_EOF) {
            entries++;
            out.append("module ").append(t.sval).append('\n');
            if (t.nextToken() == StreamTokenizer.TT_EOF || t.sval == null)
                fail("no control flag");
            out.append("flag ").append(t.sval).append('\n');
            while (t.nextToken() != StreamTokenizer.TT_EOF && t.ttype != ';') {
                String key = t.sval;
                if (t.nextToken() != '=' || t.nextToken() == StreamTokenizer.TT_EOF || t.sval == null)
                    fail("no value for key " + key);
                out.append(key).append(' ').append(hex(t.sval)).append('\n');
            }
            if (t.ttype != ';')
                fail("entry not terminated by ';'");
        }
        if (entries == 0)
            fail("no login module");
        System.out.print(out);
    }

    private static String hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8))
            b.append(String.format("%02x", x & 0xff));
        return b.toString();
    }

    private static void fail(String why) {
        System.err.println(why);
        System.exit(1);
    }
}
