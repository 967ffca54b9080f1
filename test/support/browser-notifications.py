"""A desktop notification daemon for browser tests (org.freedesktop.Notifications on D-Bus).

Chromium on Linux shows web notifications through this interface when a daemon owns the name,
and a click the daemon reports (ActionInvoked "default") reaches the service worker as a real,
trusted `notificationclick`: the only way to click a notification without a screen.

Protocol on stdio, one JSON object per line. Out: {"event": "ready"}, {"event": "notify", "id",
"replaces", "summary", "body"}, {"event": "close", "id"}. In: {"click": id}.
Runs with Debian's python3-dbus and python3-gi (/usr/bin/python3).
"""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = 'org.freedesktop.Notifications'
PATH = '/org/freedesktop/Notifications'


def emit(**fields):
    print(json.dumps(fields), flush=True)


class Daemon(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, PATH)
        self.last_id = 0

    @dbus.service.method(NAME, in_signature='susssasa{sv}i', out_signature='u')
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        # A replaced notification keeps its id, as the specification asks.
        if replaces:
            notification_id = int(replaces)
        else:
            self.last_id += 1
            notification_id = self.last_id
        emit(event='notify', id=notification_id, replaces=int(replaces), summary=str(summary), body=str(body))
        return notification_id

    @dbus.service.method(NAME, in_signature='u')
    def CloseNotification(self, notification_id):
        emit(event='close', id=int(notification_id))
        self.NotificationClosed(notification_id, 3)

    @dbus.service.method(NAME, out_signature='as')
    def GetCapabilities(self):
        return ['actions', 'body']

    @dbus.service.method(NAME, out_signature='ssss')
    def GetServerInformation(self):
        return ('axion-push-test', 'axion-push', '1', '1.2')

    @dbus.service.signal(NAME, signature='us')
    def ActionInvoked(self, notification_id, action_key):
        pass

    @dbus.service.signal(NAME, signature='uu')
    def NotificationClosed(self, notification_id, reason):
        pass


def read_command(source, _condition, daemon):
    line = source.readline()
    if not line:
        GLib.idle_add(loop.quit)
        return False
    command = json.loads(line)
    if 'click' in command:
        daemon.ActionInvoked(dbus.UInt32(command['click']), 'default')
    return True


DBusGMainLoop(set_as_default=True)
session = dbus.SessionBus()
daemon = Daemon(session)
owned = dbus.service.BusName(NAME, session, do_not_queue=True)
loop = GLib.MainLoop()
GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, read_command, daemon)
emit(event='ready')
loop.run()
