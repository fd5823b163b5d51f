"""Cameras and the clip recorder: continuous H.264 segments, order clips, packing photos, health, retention.

The API the station uses (all of it blocking unless said otherwise; the station runs it off its loop)::

    source = open_camera("usb:///dev/v4l/by-id/...")        # or rtsp://..., sim://bench1?frozen_after_s=30
    recorder = Recorder(source, segment_dir, ram_dir="/dev/shm/station/cam1", segment_s=4,
                        encoder="auto", on_segment=cb, on_alert=cb2)   # callbacks run on recorder threads
    recorder.start(); recorder.set_overlay(order_id=..., packer=..., bench=...)
    photo = recorder.take_photo(path)                        # PhotoInfo(path, sha256, wall_ms, ...)
    recorder.health()                                        # dict; health_state() -> CameraHealth
    clip = assemble_clip(segments, start_ms, end_ms, out_path, markers)   # ClipInfo
    plan = plan_retention(items, RetentionPolicy(...), now_ms=..., free_bytes=...)
    recorder.stop()

Modules: ``sources`` (USB, RTSP, file replay, simulator), ``recorder`` (the entry: the recorder thread that
wires the rest), ``recorder_settings``, ``capture`` (the reader thread and its frame queue), ``cutter`` (encoding
or stream copy into segments in a RAM directory), ``storing`` (the storage thread), ``space`` (free-space
floors, the pause when full), ``segments`` (the fMP4 writer, :class:`SegmentInfo`), ``clips``, ``photos``,
``overlay``, ``encoder`` (probe and choice), ``health``, ``retention``, ``files``, ``errors``.
"""

from drivers.cameras.clips import ClipInfo, assemble_clip
from drivers.cameras.encoder import ENCODERS, EncoderSettings, choose_encoder, probe_encoder
from drivers.cameras.errors import (
    CameraConfigError,
    CameraError,
    CameraOpenError,
    ClipError,
    EncoderUnavailable,
    NoFrameError,
    StorageFullError,
)
from drivers.cameras.files import DirectoryStore, SegmentStore, sha256_file
from drivers.cameras.frames import EncodedPacket, Frame
from drivers.cameras.health import CameraAlert, CameraHealth, HealthThresholds
from drivers.cameras.overlay import Overlay, OverlayPainter
from drivers.cameras.photos import PhotoInfo
from drivers.cameras.recorder import Recorder, RecorderSettings
from drivers.cameras.retention import (
    DELETE_ORDER,
    FileClass,
    RetentionItem,
    RetentionPlan,
    RetentionPolicy,
    plan_retention,
)
from drivers.cameras.segments import SegmentInfo
from drivers.cameras.sources import (
    CameraSource,
    FrameSource,
    PacketSource,
    SimCamera,
    SourceStatus,
    StreamCamera,
    UsbCamera,
    open_camera,
    redact_url,
)

__all__ = [
    "DELETE_ORDER",
    "ENCODERS",
    "CameraAlert",
    "CameraConfigError",
    "CameraError",
    "CameraHealth",
    "CameraOpenError",
    "CameraSource",
    "ClipError",
    "ClipInfo",
    "DirectoryStore",
    "EncodedPacket",
    "EncoderSettings",
    "EncoderUnavailable",
    "FileClass",
    "Frame",
    "FrameSource",
    "HealthThresholds",
    "NoFrameError",
    "Overlay",
    "OverlayPainter",
    "PacketSource",
    "PhotoInfo",
    "Recorder",
    "RecorderSettings",
    "RetentionItem",
    "RetentionPlan",
    "RetentionPolicy",
    "SegmentInfo",
    "SegmentStore",
    "SimCamera",
    "SourceStatus",
    "StorageFullError",
    "StreamCamera",
    "UsbCamera",
    "assemble_clip",
    "choose_encoder",
    "open_camera",
    "plan_retention",
    "probe_encoder",
    "redact_url",
    "sha256_file",
]
