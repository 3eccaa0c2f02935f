package dev.connectwarden.stack;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * A source connector that produces nothing and whose task fails for real (FAILED in Connect, with a
 * trace) while the file named by {@code fail.while.exists} exists, and runs again once it is gone and the
 * task is restarted. Creating the file makes every such task fail within a fraction of a second; removing
 * it is the fix. Used by the restart-storm benchmark; its own plugin.path directory (see build.sh).
 */
public class MarkerFailSourceConnector extends SourceConnector {
    static final String VERSION = "1.0.0";
    static final String MARKER = "fail.while.exists";
    /** How often a running task looks at the marker. */
    static final long CHECK_MS = 200;

    private Map<String, String> props = Collections.emptyMap();

    @Override
    public String version() {
        return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        this.props = props;
    }

    @Override
    public Class<? extends Task> taskClass() {
        return MarkerTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        return Collections.singletonList(props);
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return new ConfigDef().define(MARKER, ConfigDef.Type.STRING, "", ConfigDef.Importance.HIGH,
                "The task fails while this file exists (empty: never).");
    }

    /** Fails from poll() while the marker exists, else polls slowly and produces nothing. */
    public static class MarkerTask extends SourceTask {
        private Path marker;

        @Override
        public String version() {
            return VERSION;
        }

        @Override
        public void start(Map<String, String> props) {
            String m = props.getOrDefault(MARKER, "");
            marker = m.isEmpty() ? null : Paths.get(m);
        }

        @Override
        public List<SourceRecord> poll() throws InterruptedException {
            if (marker != null && Files.exists(marker)) {
                throw new ConnectException("failing on purpose: " + marker + " exists");
            }
            Thread.sleep(CHECK_MS);
            return null;
        }

        @Override
        public void stop() {
        }
    }
}
