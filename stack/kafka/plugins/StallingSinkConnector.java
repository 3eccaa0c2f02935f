package dev.connectwarden.stack;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkConnector;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sink connector whose tasks stay RUNNING but stop consuming while the file named by {@code marker.file}
 * exists: put() blocks until the file is gone, so nothing is delivered and no offsets are committed, and the
 * connector's consumer group builds up lag. Without the file the records are accepted and discarded, and
 * the framework commits their offsets as usual. Used by the lag tests; its own plugin.path directory (see
 * build.sh). The records may be anything: pair it with the ByteArrayConverter for text.
 *
 * <p>With {@code put.delay.ms}, each put() that is given records sleeps that long before accepting them: a
 * slow sink whose offsets still move, for a consumer that falls behind a faster producer (the consumer's
 * {@code max.poll.records}, through {@code consumer.override.}, bounds the records per put()).
 *
 * <p>A stalled put() gives up when the connector stops (deleted, paused, reconfigured) or a newer instance of
 * its task starts here, with a RetriableException, so the held batch is not counted as delivered and its
 * offsets stay uncommitted. Connect still reports such a task PAUSED after a pause and resume until the stall
 * ends (it reports the resume only once the held batch is through).
 */
public class StallingSinkConnector extends SinkConnector {
    static final String VERSION = "1.0.0";
    static final String MARKER = "marker.file";
    static final String PUT_DELAY_MS = "put.delay.ms";
    /** Task-config key with the task's index, so that a newer instance of a task can release an older one. */
    static final String TASK_INDEX = "stalling.task.index";
    /** How often a blocked put() looks at the marker and the stop signals. */
    static final long CHECK_MS = 100;

    static final ConfigDef CONFIG = new ConfigDef().define(MARKER, ConfigDef.Type.STRING,
            ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH,
            "Tasks accept no records while this file exists.")
            .define(PUT_DELAY_MS, ConfigDef.Type.LONG, 0L, ConfigDef.Range.atLeast(0),
                    ConfigDef.Importance.LOW, "Each put() given records sleeps this long before accepting them.");

    /**
     * Connect does not tell a task that is inside put() that it is being stopped (it waits for put() to
     * return, then gives up on the thread). These counters are the signals a blocked put() watches instead:
     * one per connector name, bumped when the connector stops (deleted, paused, reconfigured), and one per
     * task, bumped when a newer instance of the task starts in this worker.
     */
    static final Map<String, AtomicLong> EPOCHS = new ConcurrentHashMap<>();

    static AtomicLong epoch(String key) {
        return EPOCHS.computeIfAbsent(key, k -> new AtomicLong());
    }

    private Map<String, String> props = new HashMap<>();
    private String name = "";

    @Override
    public String version() {
        return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        new AbstractConfig(CONFIG, props, false);
        this.props = props;
        this.name = props.getOrDefault("name", "");
    }

    @Override
    public Class<? extends Task> taskClass() {
        return StallingTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        List<Map<String, String>> configs = new ArrayList<>();
        for (int i = 0; i < maxTasks; i++) {
            Map<String, String> c = new HashMap<>(props);
            c.put(TASK_INDEX, Integer.toString(i));
            configs.add(c);
        }
        return configs;
    }

    @Override
    public void stop() {
        epoch(name).incrementAndGet();
    }

    @Override
    public ConfigDef config() {
        return CONFIG;
    }

    /** Blocks in put() while the marker exists; otherwise discards what it is given. */
    public static class StallingTask extends SinkTask {
        private static final Logger log = LoggerFactory.getLogger(StallingTask.class);

        private Path marker;
        private long putDelayMs;
        private AtomicLong connectorEpoch;
        private AtomicLong taskEpoch;
        private long taskEpochAtStart;
        private long accepted;

        @Override
        public String version() {
            return VERSION;
        }

        @Override
        public void start(Map<String, String> props) {
            AbstractConfig config = new AbstractConfig(CONFIG, props, false);
            marker = Paths.get(config.getString(MARKER));
            putDelayMs = config.getLong(PUT_DELAY_MS);
            String name = props.getOrDefault("name", "");
            connectorEpoch = epoch(name);
            taskEpoch = epoch(name + "/" + props.getOrDefault(TASK_INDEX, "0"));
            taskEpochAtStart = taskEpoch.incrementAndGet();
        }

        @Override
        public void put(Collection<SinkRecord> records) {
            long connectorEpochAtEntry = connectorEpoch.get();
            while (Files.exists(marker)) {
                if (connectorEpoch.get() != connectorEpochAtEntry || taskEpoch.get() != taskEpochAtStart) {
                    // Retriable: the framework does not count the batch as delivered, so a stopped stall
                    // leaves its records uncommitted instead of committing them on the way out.
                    throw new RetriableException("stopped while stalled on " + marker);
                }
                try {
                    Thread.sleep(CHECK_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RetriableException("interrupted while stalled on " + marker);
                }
            }
            if (putDelayMs > 0 && !records.isEmpty()) {
                slowly(connectorEpochAtEntry);
            }
            accepted += records.size();
            if (!records.isEmpty()) {
                log.debug("accepted {} records ({} in all)", records.size(), accepted);
            }
        }

        /**
         * Sleeps {@code put.delay.ms} in steps, so that a stop signal ends the delay early instead of holding
         * the task's thread; the batch is then accepted, as a slow sink would finish its write.
         */
        private void slowly(long connectorEpochAtEntry) {
            long until = System.nanoTime() + putDelayMs * 1_000_000L;
            long left;
            while ((left = until - System.nanoTime()) > 0) {
                if (connectorEpoch.get() != connectorEpochAtEntry || taskEpoch.get() != taskEpochAtStart) {
                    return;
                }
                try {
                    Thread.sleep(Math.min(CHECK_MS, Math.max(1, left / 1_000_000L)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RetriableException("interrupted while delaying put()");
                }
            }
        }

        @Override
        public void stop() {
        }
    }
}
