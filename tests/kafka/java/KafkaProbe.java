// The real-Kafka tests' client, built on Apache Kafka's own Java client from the same jars as
// the brokers under test (tests/kafka/harness.py compiles it once per Kafka version).
//
//   watch          prints one JSON line per partition state change (leader, ISR, ELR),
//                  polling DescribeTopics every --interval-ms, until killed
//   quorum-watch   prints one JSON line per DescribeQuorum answer of the KRaft leader (leader,
//                  epoch, each voter's log end and how long ago it was last caught up, on the
//                  leader's clock), every --interval-ms, until killed; --bootstrap-controller
//                  HOST:PORT asks the controllers directly instead of a broker
//   produce        acks=all idempotent producer; prints what was acknowledged and each error
//   send           produces the lines of stdin as values (acks=all); prints the count
//   consume        reads a topic from the beginning until --count records; prints the values
//   load           produces --rate records/s round-robin over every partition of the topics
//                  (acks=all, idempotent) until stdin closes; writes every acknowledged record
//                  to --acked FILE; a tail consumer measures each partition's delivery gaps
//   dump           reads every partition of the topics from the beginning to its end; writes
//                  every record to --out FILE, in the --acked format
//   create-topic   creates a topic and waits until every partition has a leader
//   delete-topic   deletes topics (positional names) and waits for it
//   alter          IncrementalAlterConfigs SET/DELETE on a broker, the broker default or a topic
//   describe       prints one config's value and source as JSON
//   acl            allows --principal the --operation on --resource-type --name (LITERAL)
//
// Every command takes --bootstrap HOST:PORT and optionally --command-config FILE (Java client
// properties: security settings). Exit 0 on success, 1 on a Kafka error, 2 on bad usage.
import java.io.FileInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class KafkaProbe {
    private static final class Usage extends Exception {
        Usage(String m) { super(m); }
    }

    private final Map<String, String> opts = new HashMap<>();
    private final List<String> args = new ArrayList<>();

    private KafkaProbe(String[] argv, int from) throws Usage {
        for (int i = from; i < argv.length; i++) {
            if (argv[i].startsWith("--")) {
                if (i + 1 >= argv.length) throw new Usage(argv[i] + " needs a value");
                opts.put(argv[i].substring(2), argv[++i]);
            } else {
                args.add(argv[i]);
            }
        }
    }

    private String need(String k) throws Usage {
        String v = opts.get(k);
        if (v == null) throw new Usage("--" + k + " is required");
        return v;
    }

    private int num(String k, int dflt) throws Usage {
        String v = opts.get(k);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new Usage("--" + k + " \"" + v + "\" is not an integer");
        }
    }

    private Properties clientProps() throws Usage, IOException {
        Properties p = new Properties();
        String f = opts.get("command-config");
        if (f != null) {
            try (FileInputStream in = new FileInputStream(f)) {
                p.load(in);
            }
        }
        if (opts.containsKey("bootstrap-controller"))
            p.put(AdminClientConfig.BOOTSTRAP_CONTROLLERS_CONFIG, opts.get("bootstrap-controller"));
        else
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, need("bootstrap"));
        // Generous: on a loaded 2-core machine (load average 20-40 with other sessions' brokers)
        // an admin call failed with "Timed out waiting for a node assignment" after 10 s.
        p.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return p;
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    private static String ids(Collection<Node> nodes) {
        List<Integer> l = new ArrayList<>();
        for (Node n : nodes) l.add(n.id());
        Collections.sort(l);
        return l.toString().replace(" ", "");
    }

    private static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    // One line per change of a partition's leader, replicas, ISR or ELR; a line per failed
    // poll. The harness reads these as the ground truth the agent's verdicts are compared to.
    private int watch() throws Exception {
        int interval = num("interval-ms", 100);
        Map<String, String> last = new HashMap<>();
        try (Admin admin = Admin.create(clientProps())) {
            while (true) {
                long t0 = System.currentTimeMillis();
                try {
                    Collection<String> topics = args.isEmpty()
                        ? admin.listTopics().names().get(5, TimeUnit.SECONDS) : args;
                    Map<String, TopicDescription> d =
                        admin.describeTopics(topics).allTopicNames().get(5, TimeUnit.SECONDS);
                    for (TopicDescription td : new TreeMap<>(d).values()) {
                        for (TopicPartitionInfo p : td.partitions()) {
                            String key = td.name() + "/" + p.partition();
                            int leader = p.leader() == null ? -1 : p.leader().id();
                            String state = "\"leader\":" + leader + ",\"replicas\":" + ids(p.replicas())
                                + ",\"isr\":" + ids(p.isr()) + ",\"elr\":" + ids(p.elr());
                            if (!state.equals(last.get(key))) {
                                last.put(key, state);
                                out("{\"t\":" + t0 + ",\"topic\":" + json(td.name()) + ",\"partition\":"
                                    + p.partition() + "," + state + "}");
                            }
                        }
                    }
                    out("{\"t\":" + t0 + ",\"poll\":\"ok\"}");
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    out("{\"t\":" + t0 + ",\"error\":" + json(String.valueOf(e.getCause() == null ? e : e.getCause())) + "}");
                }
                long left = interval - (System.currentTimeMillis() - t0);
                if (left > 0) Thread.sleep(left);
            }
        }
    }

    // The quorum as its leader describes it. A voter's age is the leader's own "last caught up"
    // (its current time) minus the voter's: one clock, the leader's, so no skew enters it.
    private int quorumWatch() throws Exception {
        int interval = num("interval-ms", 200);
        try (Admin admin = Admin.create(clientProps())) {
            while (true) {
                long t0 = System.currentTimeMillis();
                try {
                    org.apache.kafka.clients.admin.QuorumInfo q =
                        admin.describeMetadataQuorum().quorumInfo().get(5, TimeUnit.SECONDS);
                    long now = -1;
                    for (org.apache.kafka.clients.admin.QuorumInfo.ReplicaState r : q.voters())
                        if (r.replicaId() == q.leaderId()) now = r.lastCaughtUpTimestamp().orElse(-1);
                    StringBuilder b = new StringBuilder("{\"t\":" + t0 + ",\"leader\":" + q.leaderId()
                        + ",\"epoch\":" + q.leaderEpoch() + ",\"hw\":" + q.highWatermark() + ",\"voters\":[");
                    String sep = "";
                    for (org.apache.kafka.clients.admin.QuorumInfo.ReplicaState r : q.voters()) {
                        long cu = r.lastCaughtUpTimestamp().orElse(-1);
                        long age = r.replicaId() == q.leaderId() ? 0 : (cu < 0 || now < 0 ? -1 : now - cu);
                        b.append(sep).append("{\"id\":").append(r.replicaId()).append(",\"leo\":")
                            .append(r.logEndOffset()).append(",\"age_ms\":").append(age).append('}');
                        sep = ",";
                    }
                    out(b.append("]}").toString());
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    out("{\"t\":" + t0 + ",\"error\":" + json(String.valueOf(e.getCause() == null ? e : e.getCause())) + "}");
                }
                long left = interval - (System.currentTimeMillis() - t0);
                if (left > 0) Thread.sleep(left);
            }
        }
    }

    private int produce() throws Exception {
        String topic = need("topic");
        int count = num("count", 1000);
        int size = num("size", 100);
        Properties p = clientProps();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(num("delivery-timeout-ms", 60000)));
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        AtomicLong acked = new AtomicLong();
        Map<String, Long> errors = new TreeMap<>();
        byte[] value = new byte[size];
        for (int i = 0; i < size; i++) value[i] = (byte) ('a' + i % 26);
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                prod.send(new ProducerRecord<>(topic, ("k" + i).getBytes(), value), (md, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        synchronized (errors) {
                            errors.merge(e.getClass().getSimpleName(), 1L, Long::sum);
                        }
                    }
                });
            }
            prod.flush();
        }
        StringBuilder b = new StringBuilder("{\"acked\":" + acked.get() + ",\"errors\":{");
        String sep = "";
        for (Map.Entry<String, Long> e : errors.entrySet()) {
            b.append(sep).append(json(e.getKey())).append(':').append(e.getValue());
            sep = ",";
        }
        out(b.append("}}").toString());
        return errors.isEmpty() ? 0 : 1;
    }

    private int send() throws Exception {
        String topic = need("topic");
        Properties p = clientProps();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        long n = 0;
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p);
             java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in))) {
            String line;
            while ((line = in.readLine()) != null) {
                prod.send(new ProducerRecord<>(topic, line)).get(30, TimeUnit.SECONDS);
                n++;
            }
        }
        out("{\"sent\":" + n + "}");
        return 0;
    }

    private int consume() throws Exception {
        String topic = need("topic");
        int count = num("count", 1);
        Properties p = clientProps();
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<String> values = new ArrayList<>();
        long deadline = System.currentTimeMillis() + num("timeout-ms", 60000);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<org.apache.kafka.common.TopicPartition> tps = new ArrayList<>();
            for (org.apache.kafka.common.PartitionInfo pi : c.partitionsFor(topic))
                tps.add(new org.apache.kafka.common.TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            while (values.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(java.time.Duration.ofMillis(500)))
                    values.add(r.value());
            }
        }
        Collections.sort(values);
        StringBuilder b = new StringBuilder("{\"values\":[");
        for (int i = 0; i < values.size(); i++) b.append(i == 0 ? "" : ",").append(json(values.get(i)));
        out(b.append("]}").toString());
        return values.size() == count ? 0 : 1;
    }

    // A record's value: its sequence number (8 bytes, big-endian) then size-8 bytes drawn
    // from a generator seeded with it, so every value differs and a checksum catches any
    // change. Lines of --acked and --out: "topic partition offset seq crc32".
    private static byte[] payload(long seq, int size) {
        byte[] v = new byte[Math.max(size, 8)];
        java.nio.ByteBuffer.wrap(v).putLong(seq);
        java.util.Random r = new java.util.Random(seq);
        byte[] rest = new byte[v.length - 8];
        r.nextBytes(rest);
        System.arraycopy(rest, 0, v, 8, rest.length);
        return v;
    }

    private static long crc(byte[] v) {
        java.util.zip.CRC32 c = new java.util.zip.CRC32();
        c.update(v, 0, v.length);
        return c.getValue();
    }

    private static long seqOf(byte[] v) {
        return v.length >= 8 ? java.nio.ByteBuffer.wrap(v).getLong() : -1;
    }

    private List<org.apache.kafka.common.TopicPartition> partitionsOf(org.apache.kafka.clients.consumer.Consumer<?, ?> c) {
        List<org.apache.kafka.common.TopicPartition> tps = new ArrayList<>();
        for (String t : args)
            for (org.apache.kafka.common.PartitionInfo pi : c.partitionsFor(t, java.time.Duration.ofSeconds(30)))
                tps.add(new org.apache.kafka.common.TopicPartition(t, pi.partition()));
        tps.sort((a, b) -> a.topic().equals(b.topic()) ? a.partition() - b.partition() : a.topic().compareTo(b.topic()));
        return tps;
    }

    private Properties consumerProps() throws Usage, IOException {
        Properties p = clientProps();
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        return p;
    }

    // Final produce failures are counted by Kafka error code here; retried errors are logged
    // by the producer's Sender ("... retrying ... Error: CODE"), which the harness counts from
    // stderr (tests/kafka/java/load-log4j2.properties).
    private int load() throws Exception {
        double rate = num("rate", 200);
        int size = num("size", 1000);
        long stallMs = num("stall-ms", 1000);
        Properties p = clientProps();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(num("delivery-timeout-ms", 300000)));
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) { }
            } catch (IOException e) { }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        Map<String, Long> failed = new TreeMap<>();
        AtomicLong acked = new AtomicLong();
        long sent = 0;
        long[] stall = new long[3]; // episodes, total ms, max ms
        try (java.io.BufferedWriter w = new java.io.BufferedWriter(new java.io.FileWriter(need("acked")));
             KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p);
             KafkaConsumer<byte[], byte[]> tail = new KafkaConsumer<>(consumerProps())) {
            List<org.apache.kafka.common.TopicPartition> tps = partitionsOf(tail);
            tail.assign(tps);
            tail.seekToEnd(tps);
            for (org.apache.kafka.common.TopicPartition tp : tps) tail.position(tp);
            Map<org.apache.kafka.common.TopicPartition, Long> last = new HashMap<>();
            Thread tailer = new Thread(() -> {
                long now0 = System.currentTimeMillis();
                for (org.apache.kafka.common.TopicPartition tp : tps) last.put(tp, now0);
                while (!stop.get()) {
                    for (ConsumerRecord<byte[], byte[]> r : tail.poll(java.time.Duration.ofMillis(100))) {
                        org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(r.topic(), r.partition());
                        long now = System.currentTimeMillis();
                        long gap = now - last.get(tp);
                        if (gap > stallMs) {
                            stall[0]++;
                            stall[1] += gap;
                            stall[2] = Math.max(stall[2], gap);
                        }
                        last.put(tp, now);
                    }
                }
                long end = System.currentTimeMillis();
                for (long t : last.values()) {
                    long gap = end - t;
                    if (gap > stallMs) {
                        stall[0]++;
                        stall[1] += gap;
                        stall[2] = Math.max(stall[2], gap);
                    }
                }
            });
            tailer.start();
            out("{\"started\":" + tps.size() + "}");
            long t0 = System.nanoTime();
            while (!stop.get()) {
                long due = t0 + (long) (sent * 1e9 / rate);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1000000, (int) (wait % 1000000));
                    continue;
                }
                org.apache.kafka.common.TopicPartition tp = tps.get((int) (sent % tps.size()));
                final long seq = sent;
                byte[] v = payload(seq, size);
                final long sum = crc(v);
                prod.send(new ProducerRecord<>(tp.topic(), tp.partition(), null, v), (md, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                        synchronized (w) {
                            try {
                                w.write(md.topic() + " " + md.partition() + " " + md.offset() + " " + seq + " " + sum + "\n");
                            } catch (IOException io) {
                                throw new java.io.UncheckedIOException(io);
                            }
                        }
                    } else {
                        synchronized (failed) {
                            failed.merge(org.apache.kafka.common.protocol.Errors.forException(e).name(), 1L, Long::sum);
                        }
                    }
                });
                sent++;
            }
            tailer.join(30000);
            prod.flush();
        }
        StringBuilder b = new StringBuilder("{\"sent\":" + sent + ",\"acked\":" + acked.get() + ",\"failed\":{");
        String sep = "";
        for (Map.Entry<String, Long> e : failed.entrySet()) {
            b.append(sep).append(json(e.getKey())).append(':').append(e.getValue());
            sep = ",";
        }
        out(b.append("},\"stall\":{\"episodes\":").append(stall[0]).append(",\"total_ms\":").append(stall[1])
            .append(",\"max_ms\":").append(stall[2]).append("}}").toString());
        return 0;
    }

    private int dump() throws Exception {
        long n = 0;
        try (java.io.BufferedWriter w = new java.io.BufferedWriter(new java.io.FileWriter(need("out")));
             KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps())) {
            List<org.apache.kafka.common.TopicPartition> tps = partitionsOf(c);
            Map<org.apache.kafka.common.TopicPartition, Long> end = c.endOffsets(tps, java.time.Duration.ofSeconds(30));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + num("timeout-ms", 120000);
            List<org.apache.kafka.common.TopicPartition> todo = new ArrayList<>(tps);
            while (true) {
                todo.removeIf(tp -> c.position(tp) >= end.get(tp));
                if (todo.isEmpty()) break;
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("KafkaProbe: dump did not reach the end of " + todo);
                    return 1;
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(java.time.Duration.ofMillis(500))) {
                    if (r.offset() >= end.get(new org.apache.kafka.common.TopicPartition(r.topic(), r.partition()))) continue;
                    w.write(r.topic() + " " + r.partition() + " " + r.offset() + " " + seqOf(r.value()) + " " + crc(r.value()) + "\n");
                    n++;
                }
            }
        }
        out("{\"records\":" + n + "}");
        return 0;
    }

    private Map<String, String> pairs() throws Usage {
        Map<String, String> m = new LinkedHashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) throw new Usage("\"" + a + "\" is not KEY=VALUE");
            m.put(a.substring(0, eq), a.substring(eq + 1));
        }
        return m;
    }

    private int createTopic() throws Exception {
        String topic = need("topic");
        NewTopic nt = new NewTopic(topic, num("partitions", 1), (short) num("replication-factor", 3));
        nt.configs(pairs());
        try (Admin admin = Admin.create(clientProps())) {
            admin.createTopics(List.of(nt)).all().get(30, TimeUnit.SECONDS);
            long deadline = System.currentTimeMillis() + 30000;
            while (true) {
                // Right after CreateTopics the broker asked may not know the topic yet
                // (UnknownTopicOrPartition): that is "not yet", until the deadline.
                boolean led = false;
                try {
                    TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(10, TimeUnit.SECONDS).get(topic);
                    led = !td.partitions().isEmpty();
                    for (TopicPartitionInfo pi : td.partitions()) led &= pi.leader() != null;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException))
                        throw e;
                }
                if (led) break;
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("KafkaProbe: topic " + topic + " has partitions without a leader after 30 s");
                    return 1;
                }
                Thread.sleep(100);
            }
        }
        out("{\"created\":" + json(topic) + "}");
        return 0;
    }

    private int deleteTopics() throws Exception {
        try (Admin admin = Admin.create(clientProps())) {
            admin.deleteTopics(args).all().get(30, TimeUnit.SECONDS);
        }
        out("{\"deleted\":" + args.size() + "}");
        return 0;
    }

    private ConfigResource resource() throws Usage {
        if (opts.containsKey("topic")) return new ConfigResource(ConfigResource.Type.TOPIC, opts.get("topic"));
        if (opts.containsKey("broker")) return new ConfigResource(ConfigResource.Type.BROKER, opts.get("broker"));
        if (opts.containsKey("broker-default")) return new ConfigResource(ConfigResource.Type.BROKER, "");
        throw new Usage("one of --topic, --broker, --broker-default is required");
    }

    private int alter() throws Exception {
        ConfigResource r = resource();
        List<AlterConfigOp> ops = new ArrayList<>();
        for (Map.Entry<String, String> e : pairs().entrySet()) {
            boolean del = e.getValue().isEmpty();
            ops.add(new AlterConfigOp(new ConfigEntry(e.getKey(), e.getValue()),
                del ? AlterConfigOp.OpType.DELETE : AlterConfigOp.OpType.SET));
        }
        try (Admin admin = Admin.create(clientProps())) {
            admin.incrementalAlterConfigs(Map.of(r, ops)).all().get(30, TimeUnit.SECONDS);
        }
        out("{\"altered\":" + json(r.toString()) + "}");
        return 0;
    }

    private int acl() throws Exception {
        org.apache.kafka.common.resource.ResourcePattern rp = new org.apache.kafka.common.resource.ResourcePattern(
            org.apache.kafka.common.resource.ResourceType.fromString(need("resource-type")), need("name"),
            org.apache.kafka.common.resource.PatternType.LITERAL);
        org.apache.kafka.common.acl.AccessControlEntry ace = new org.apache.kafka.common.acl.AccessControlEntry(
            need("principal"), "*", org.apache.kafka.common.acl.AclOperation.fromString(need("operation")),
            org.apache.kafka.common.acl.AclPermissionType.ALLOW);
        try (Admin admin = Admin.create(clientProps())) {
            admin.createAcls(List.of(new org.apache.kafka.common.acl.AclBinding(rp, ace))).all().get(30, TimeUnit.SECONDS);
        }
        out("{\"acl\":" + json(rp + " " + ace) + "}");
        return 0;
    }

    private int describe() throws Exception {
        ConfigResource r = resource();
        String key = need("key");
        try (Admin admin = Admin.create(clientProps())) {
            Config c = admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r);
            ConfigEntry e = c.get(key);
            if (e == null) {
                out("{\"key\":" + json(key) + ",\"value\":null,\"source\":null}");
            } else {
                out("{\"key\":" + json(key) + ",\"value\":" + (e.value() == null ? "null" : json(e.value()))
                    + ",\"source\":" + json(e.source().name()) + "}");
            }
        }
        return 0;
    }

    /** Every registered broker, fenced ones included (DescribeCluster, KIP-1073): a broker
     *  whose pod is gone but that was never unregistered shows as fenced. */
    private int brokers() throws Exception {
        try (Admin admin = Admin.create(clientProps())) {
            Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions().includeFencedBrokers(true))
                .nodes().get(30, TimeUnit.SECONDS);
            StringBuilder b = new StringBuilder("{\"brokers\":[");
            List<Node> sorted = new ArrayList<>(nodes);
            sorted.sort((x, y) -> Integer.compare(x.id(), y.id()));
            for (int i = 0; i < sorted.size(); i++)
                b.append(i == 0 ? "" : ",").append("{\"id\":").append(sorted.get(i).id())
                 .append(",\"fenced\":").append(sorted.get(i).isFenced()).append("}");
            out(b.append("]}").toString());
        }
        return 0;
    }

    public static void main(String[] argv) {
        int rc;
        try {
            if (argv.length == 0) throw new Usage("a command is required: watch, produce, create-topic, alter, describe");
            KafkaProbe k = new KafkaProbe(argv, 1);
            switch (argv[0]) {
                case "watch": rc = k.watch(); break;
                case "quorum-watch": rc = k.quorumWatch(); break;
                case "produce": rc = k.produce(); break;
                case "send": rc = k.send(); break;
                case "consume": rc = k.consume(); break;
                case "load": rc = k.load(); break;
                case "dump": rc = k.dump(); break;
                case "create-topic": rc = k.createTopic(); break;
                case "delete-topic": rc = k.deleteTopics(); break;
                case "alter": rc = k.alter(); break;
                case "describe": rc = k.describe(); break;
                case "acl": rc = k.acl(); break;
                case "brokers": rc = k.brokers(); break;
                default: throw new Usage("unknown command \"" + argv[0] + "\"");
            }
        } catch (Usage u) {
            System.err.println("KafkaProbe: " + u.getMessage());
            rc = 2;
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            System.err.println("KafkaProbe: " + (c instanceof ApiException ? c.getClass().getSimpleName() + ": " + c.getMessage() : String.valueOf(c)));
            rc = 1;
        } catch (Exception e) {
            System.err.println("KafkaProbe: " + e);
            rc = 1;
        }
        System.exit(rc);
    }
}
