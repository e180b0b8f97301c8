package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.backup.SnapshotReader;
import dev.lanyard.rpc.Callers;
import dev.lanyard.store.Database;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupHeader;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.sql.Connection;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams a consistent snapshot of the store to an admin ({@code lanyard backup}), who encrypts it.
 * The read runs on a thread of its own and sends only as fast as the caller takes it, so a large
 * store is never held in memory. Audited once per backup as "backup.create": SUCCESS with the
 * counts, FAILED when the store could not be read or the caller went away.
 */
public final class BackupGrpcService extends BackupServiceGrpc.BackupServiceImplBase {

    private static final Logger LOG = LoggerFactory.getLogger(BackupGrpcService.class);

    private final Database database;
    private final Supplier<BackupHeader> header;
    private final ExecutorService readers;
    private final AuditLog audit;
    private final Clock clock;

    /** @param header the server's part of each backup's header (trust domain, custody, KEK id and salt) */
    public BackupGrpcService(Database database, Supplier<BackupHeader> header, ExecutorService readers, AuditLog audit,
            Clock clock) {
        this.database = database;
        this.header = header;
        this.readers = readers;
        this.audit = audit;
        this.clock = clock;
    }

    @Override
    public void createBackup(CreateBackupRequest request, StreamObserver<BackupChunk> response) {
        String actor = Callers.actor();
        if (AuditText.holdsToken(request.getNote())) {
            Status refused = Status.INVALID_ARGUMENT.withDescription(
                    "the note holds a JWT or a join token, which no record may keep; leave it out");
            audit.record(new AuditEvent(clock.instant(), actor, "backup.create", "store", AuditEvent.Outcome.REFUSED,
                    refused.getCode() + ": " + refused.getDescription()));
            response.onError(refused.asException());
            return;
        }
        ServerCallStreamObserver<BackupChunk> call = (ServerCallStreamObserver<BackupChunk>) response;
        FlowControl flow = new FlowControl(call);
        BackupHeader head = header.get().toBuilder().setTakenAt(dev.lanyard.rpc.Protos.timestamp(clock.instant()))
                .build();
        readers.execute(() -> {
            try (Connection c = database.openDedicatedConnection()) {
                SnapshotReader.Counts counts = SnapshotReader.read(c, database.dialect(), head, flow::send);
                call.onCompleted();
                record(actor, AuditEvent.Outcome.SUCCESS, request.getNote(), "schema " + counts.schemaVersion() + ", "
                        + counts.tables() + " tables, " + counts.rows() + " rows");
            } catch (FlowControl.CallerGone e) {
                record(actor, AuditEvent.Outcome.FAILED, request.getNote(), "the caller went away before the end");
            } catch (Exception e) {
                LOG.error("backup for {} failed", actor, e);
                record(actor, AuditEvent.Outcome.FAILED, request.getNote(), "cannot read the store: " + e.getMessage());
                call.onError(Status.INTERNAL.withDescription("the server could not read its store for the backup: "
                        + e.getMessage() + "; see the server's log").asException());
            }
        });
    }

    private void record(String actor, AuditEvent.Outcome outcome, String note, String detail) {
        audit.record(new AuditEvent(clock.instant(), actor, "backup.create", "store", outcome,
                note.isEmpty() ? detail : detail + "; note: " + note));
    }

    /**
     * Sends a message only when the call's transport can take it (onReady), from the reader's thread;
     * the handlers run on the call's own executor, which is never blocked.
     */
    private static final class FlowControl {
        static final class CallerGone extends Exception {
            CallerGone() {
                super("the caller cancelled the backup", null, false, false);
            }
        }

        private final ServerCallStreamObserver<BackupChunk> call;
        private final Object lock = new Object();
        private volatile boolean cancelled;

        FlowControl(ServerCallStreamObserver<BackupChunk> call) {
            this.call = call;
            call.setOnReadyHandler(this::wake);
            call.setOnCancelHandler(() -> {
                cancelled = true;
                wake();
            });
        }

        private void wake() {
            synchronized (lock) {
                lock.notifyAll();
            }
        }

        void send(BackupChunk chunk) throws CallerGone, InterruptedException {
            synchronized (lock) {
                while (!call.isReady() && !cancelled) {
                    lock.wait(1000); // isReady may turn true without a wake we saw; look again
                }
            }
            if (cancelled) {
                throw new CallerGone();
            }
            call.onNext(chunk);
        }
    }
}
