package dev.lanyard.store;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import javax.sql.DataSource;

/**
 * A data source whose {@code commit()} returns only once the commit is on stable storage: every
 * repository writes through {@link Jdbc#inTransaction}, so no write path can forget the sync.
 * Writes in auto-commit mode are not covered; Lanyard makes none after the schema migration.
 */
final class DurableDataSource extends ConnectionWrappingDataSource {

    private final GroupSync sync;

    DurableDataSource(DataSource delegate, GroupSync sync) {
        super(delegate);
        this.sync = sync;
    }

    GroupSync sync() {
        return sync;
    }

    @Override
    Connection wrapConnection(Connection connection) {
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    Object result = invoke(connection, method, args);
                    if (method.getName().equals("commit") && method.getParameterCount() == 0) {
                        sync.afterCommit(connection);
                    }
                    return result;
                });
    }

    private static Object invoke(Connection connection, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(connection, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
