"""The examples of the HuaBan routes in the OpenAPI document (real shapes, as the server answers them)."""

from __future__ import annotations

from typing import Any

CLIENT = "V1StGXR8_Z5jdHi6B-myT"
ARTWORK = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
JOB = "0193a1b2-8d9e-7f00-8a1b-2c3d4e5f6a7b"
ASSET = "0193a1b2-9e0f-7a11-8b2c-3d4e5f6a7b8c"
KEY = f"clients/{CLIENT}/artworks/{ARTWORK}/original/v1/file.png"
WHEN = "2026-12-03T10:00:00Z"
SIGNED = "?exp=1795000000&sig=3f2a9c"
BASE = "http://127.0.0.1:8000/media/"


def url(kind: str, ext: str, version: int = 1) -> str:
    return f"{BASE}clients/{CLIENT}/artworks/{ARTWORK}/{kind}/v{version}/file.{ext}{SIGNED}"


def error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


HEALTHZ: dict[str, Any] = {"status": "ok", "ok": True,
                           "checks": {"database": "ok", "storage": "ok", "queue": "ok", "schema": "ok"}}
INIT_REQUEST = {"clientId": CLIENT, "device": {"platform": "ios", "model": "iPhone15,2", "appVersion": "1.0.3"}}
LIMITS = {"rateLimits": {"presign": {"limit": 60, "periodS": 60}, "commit": {"limit": 60, "periodS": 60},
                         "generation": {"limit": 10, "periodS": 60}, "default": {"limit": 300, "periodS": 60}},
          "galleryPageMax": 50, "videoDurationS": 5, "transcriptMaxChars": 5000}
INIT_RESPONSE = {
    "clientId": CLIENT, "createdAt": WHEN,
    "uploadPolicy": {"maxImageBytes": 20971520, "maxAudioBytes": 26214400, "maxVideoBytes": 209715200,
                     "allowedMimes": {"original": ["image/png", "image/jpeg", "image/webp"],
                                      "audio": ["audio/wav", "audio/mpeg", "audio/mp4", "audio/webm"],
                                      "video": ["video/mp4", "video/quicktime", "video/webm"]},
                     "presignExpiresS": 3600},
    "limits": LIMITS,
}
PRESIGN_REQUEST = {"type": "original", "mime": "image/png", "size": 183422}
PRESIGN_RESPONSE = {"key": KEY, "url": f"{BASE}{KEY}?exp=1795000000&sig=9b1c&max=183422", "method": "PUT",
                    "headers": {"Content-Type": "image/png"}, "expiresAt": "2026-12-03T11:00:00Z",
                    "artworkId": ARTWORK, "version": 1}
COMMIT_REQUEST = {"key": KEY, "etag": '"2cc7e-17e5b0a1c2d3e4f5-1a2b3c"', "mime": "image/png", "size": 183422}
MEDIA_ASSET = {"id": ASSET, "key": KEY, "type": "original", "mime": "image/png", "size": 183422, "width": 1024,
               "height": 768, "duration": None,
               "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "createdAt": WHEN,
               "artworkId": ARTWORK, "url": url("original", "png")}
ARTWORK_CREATE = {"title": "会飞的小猫", "description": "下雨天画的", "coverAssetId": ASSET,
                  "audioAssetId": "0193a1b2-af10-7b22-8c3d-4e5f6a7b8c9d", "transcript": None}
ARTWORK_PATCH = {"transcript": "小猫坐着彩虹飞到了月亮上"}
ANALYSIS_SHORT = {"status": "completed", "summary": "色彩丰富大胆，搭配和谐。",
                  "abilities": {"color": 82, "composition": 64, "imagination": 71, "detail": 58, "lineControl": 66,
                                "storytelling": 74},
                  "tags": ["色彩丰富", "蓝色", "黄色"]}
ARTWORK_OUT = {
    "id": ARTWORK, "title": "会飞的小猫", "description": "下雨天画的", "status": "ready",
    "coverUrl": url("original", "png"), "thumbUrl": url("thumb", "jpg"), "audioUrl": url("audio", "webm"),
    "videoUrl": url("video", "mp4"), "posterUrl": url("thumb", "jpg", 2),
    "transcript": "小猫坐着彩虹飞到了月亮上", "transcriptSource": "asr",
    "story": "一只勇敢的小猫坐上彩虹滑梯，一路飞到了月亮上……",
    "analysis": ANALYSIS_SHORT,
    "latestJob": {"jobId": JOB, "status": "completed", "phase": "completed", "progress": 100},
    "createdAt": WHEN, "updatedAt": "2026-12-03T10:01:30Z",
}
GALLERY = {"items": [{"id": ARTWORK, "title": "会飞的小猫", "coverUrl": url("original", "png"),
                      "thumbUrl": url("thumb", "jpg"), "videoUrl": url("video", "mp4"), "status": "ready",
                      "createdAt": WHEN}],
           "nextCursor": "MDE5M2ExYjItN2M0ZC03ZThm"}
IMAGES = {"items": [{"key": f"clients/{CLIENT}/artworks/{ARTWORK}/video/v1/file.mp4", "url": url("video", "mp4"),
                     "size": 1843210, "lastModified": "2026-12-03T10:01:29Z"}]}
GENERATION_CREATE = {"artworkId": ARTWORK, "text": None}
GENERATION_ACCEPTED = {"jobId": JOB, "status": "queued", "phase": "queued"}
GENERATION = {"jobId": JOB, "artworkId": ARTWORK, "status": "completed", "phase": "completed", "progress": 100,
              "error": None, "videoUrl": url("video", "mp4"), "posterUrl": url("thumb", "jpg", 2),
              "transcript": "小猫坐着彩虹飞到了月亮上", "story": "一只勇敢的小猫坐上彩虹滑梯，一路飞到了月亮上……"}
GENERATION_FAILED = {**GENERATION, "status": "failed", "phase": "failed", "progress": 40, "videoUrl": None,
                     "posterUrl": None,
                     "error": {"code": "content_policy",
                               "message": "ark: OutputVideoSensitiveContentDetected: The generated video may "
                                          "contain sensitive content."}}
ANALYSIS = {"artworkId": ARTWORK, **ANALYSIS_SHORT,
            "boxes": [{"label": "小猫", "x": 0.31, "y": 0.22, "w": 0.35, "h": 0.41, "score": 0.88}],
            "scores": {"color": 82, "composition": 64, "creativity": 71, "detail": 58, "overall": 69},
            "provider": "local", "createdAt": "2026-12-03T10:01:35Z", "error": None}
PROFILE_IN = {"nickname": "豆豆", "age": 6, "description": "喜欢画小动物", "avatarAssetId": None}
PROFILE_OUT = {**PROFILE_IN, "avatarUrl": None, "createdAt": WHEN, "updatedAt": WHEN}
_ABILITIES = {"color": 80.5, "composition": 62.0, "imagination": 70.0, "detail": 57.5, "lineControl": 65.0,
              "storytelling": 72.0}
REPORT = {"period": "week", "from": "2026-11-30T00:00:00Z", "to": "2026-12-07T00:00:00Z", "artworkCount": 3,
          "abilities": _ABILITIES,
          "trend": {"color": 4.5, "composition": -1.0, "imagination": 6.0, "detail": 0.5, "lineControl": 2.0,
                    "storytelling": None},
          "highlights": ["这段时间画了 3 幅画。", "最突出的是色彩（平均 80 分）。", "想象力比上一阶段提高了 6 分。"],
          "topTags": ["色彩丰富", "蓝色", "小猫"],
          "series": [{"from": "2026-11-30T00:00:00Z", "to": "2026-12-07T00:00:00Z", "artworkCount": 3,
                      "abilities": _ABILITIES}]}
