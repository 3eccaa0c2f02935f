package dev.connectwarden.stack;

import java.io.InputStream;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * A source connector that produces nothing and reports the version baked into its jar. The local stack
 * installs it twice, each version in its own plugin.path directory, so that connector plugin versions
 * (spec.version, Kafka Connect 4.1+) are tested against a real worker. Kafka's own connectors cannot serve:
 * they report the worker's version (AppInfoParser lives in kafka-clients, outside plugin isolation), so two
 * releases of connect-file look the same to Connect.
 */
public class VersionedSourceConnector extends SourceConnector {
    static final String VERSION = readVersion();

    private static String readVersion() {
        try (InputStream in = VersionedSourceConnector.class.getResourceAsStream("/connect-warden-plugin.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "0.0.0");
        } catch (Exception e) {
            return "0.0.0";
        }
    }

    @Override
    public String version() {
        return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
    }

    @Override
    public Class<? extends Task> taskClass() {
        return IdleTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        return Collections.singletonList(Collections.emptyMap());
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return new ConfigDef();
    }

    /** Polls slowly and produces nothing. */
    public static class IdleTask extends SourceTask {
        @Override
        public String version() {
            return VERSION;
        }

        @Override
        public void start(Map<String, String> props) {
        }

        @Override
        public List<SourceRecord> poll() throws InterruptedException {
            Thread.sleep(1000);
            return null;
        }

        @Override
        public void stop() {
        }
    }
}
